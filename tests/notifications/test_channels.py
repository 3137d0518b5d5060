"""Zalo ZNS and SMS beside email, against local servers that answer as the providers do
(provider_servers.py), with real RQ workers and the test clock: the channel order and its
fallbacks, token refresh, rate limits, quiet hours, the budget, exactly once, and the
signed delivery webhooks."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq.registry import ScheduledJobRegistry

from coordinator.extensions import db
from coordinator.notifications import delivery, routing
from coordinator.notifications.models import Notification, ZaloToken
from coordinator.notifications.webhooks import esms_callback_url
from jobs import notifications as notification_jobs
from tests.api_helpers import available_for
from tests.notifications.notification_helpers import notifications, session_starting, work
from tests.notifications.provider_servers import APP_ID, OA_SECRET, provider_servers

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE, PHONE_DIGITS = "0912 345 678", "84912345678"


@pytest.fixture
def providers(app):
    yield from provider_servers(app)


@pytest.fixture
def daytime(clock):
    """The clock at 10:00 local tomorrow: outside quiet hours."""
    tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
    clock.set(datetime.combine(tomorrow, time(10, 0), tzinfo=LOCAL).astimezone(UTC))
    return clock


def assign(client, make_session, make_volunteer, organizer_headers, clock, **volunteer):
    """An organizer assigns a volunteer (with a phone) to a session in 10 days: an
    immediate 'assigned' notice. Returns the volunteer's id."""
    session = session_starting(make_session, clock.now + timedelta(days=10))
    volunteer_id, _ = make_volunteer(
        phone=PHONE, **{"availability": available_for(session), **volunteer}
    )
    response = client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "helper", "volunteer_id": volunteer_id},
        headers=organizer_headers,
    )
    assert response.status_code == 201, response.json
    return volunteer_id


def assigned_notice() -> Notification:
    [row] = notifications(kind="assigned")
    return row


def test_zalo_first_with_the_notification_id_as_tracking_id_and_a_refreshed_token(
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)

    row = assigned_notice()
    [request] = providers.zns_requests
    assert request["phone"] == PHONE_DIGITS and request["template_id"] == "300001"
    assert request["tracking_id"] == str(row.id)
    assert set(request["template_data"]) == {"title", "time", "place", "role", "url"}
    # No token yet: the refresh token from the configuration was used first, as Zalo asks.
    [refresh] = providers.refreshes
    assert (refresh["app_id"], refresh["grant_type"], refresh["secret_key"]) == (
        APP_ID,
        "refresh_token",
        "app-secret-key",
    )
    assert (row.status, row.channel, row.delivery_status) == ("sent", "zalo", "accepted")
    assert row.provider_message_id.startswith("zns-msg-") and row.price_vnd == 300
    assert smtp.messages == [] and providers.sms_requests == []
    # The rotated refresh token is kept in the database, not in the configuration.
    token = db.session.get(ZaloToken, 1)
    assert token.refresh_token == providers.refresh_token != "refresh-0"
    # No phone number in a log line.
    assert not [r for r in caplog.records if "912345678" in r.getMessage()]


def test_the_token_is_refreshed_before_it_expires_and_again_when_zalo_says_it_is_invalid(
    app,
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    providers,
    daytime,
):
    providers.expires_in = 300  # inside the refresh margin (10 minutes)
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    assert len(providers.refreshes) == 1
    from coordinator.notifications import zalo

    with app.app_context():
        zalo.access_token()  # expires within the margin: refreshed before use
    assert len(providers.refreshes) == 2

    providers.expires_in = 90000
    with app.app_context():
        zalo.access_token()
        assert len(providers.refreshes) == 3
        zalo.access_token()  # valid for long: no refresh
    assert len(providers.refreshes) == 3

    providers.expire_access_tokens()  # revoked at Zalo before its time: -124
    session = session_starting(make_session, daytime.now + timedelta(days=12))
    make_volunteer_two = make_volunteer(phone="0987 000 111", availability=available_for(session))[
        0
    ]
    client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "helper", "volunteer_id": make_volunteer_two},
        headers=organizer_headers,
    )
    work(redis_client)
    latest = notifications(kind="assigned")[-1]
    assert (latest.status, latest.channel) == ("sent", "zalo")
    old, new = (
        {k.lower(): v for k, v in r["headers"].items()}["access_token"]
        for r in providers.zns_requests[-2:]
    )
    assert old != new and new in providers.valid_access_tokens  # -124, refreshed, sent again
    assert len(providers.refreshes) == 4


def test_no_zalo_account_falls_back_to_sms_then_a_blocked_number_to_email(
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    providers.no_zalo.add(PHONE_DIGITS)
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)

    row = assigned_notice()
    assert (row.status, row.channel, row.refused_channels) == ("sent", "sms", "zalo")
    [sms] = providers.sms_requests
    assert sms["Phone"] == "0912345678" and sms["RequestId"] == f"ntf-{row.id}"
    assert sms["SmsType"] == "2" and sms["IsUnicode"] == "1"
    assert sms["CallbackUrl"] == esms_callback_url(row.id)
    assert "http://localhost:5000/sessions/" in sms["Content"]
    assert row.provider_message_id.startswith("sms-") and row.price_vnd == 800
    assert smtp.messages == []

    providers.blocked_sms.add("0987000111")
    providers.no_zalo.add("84987000111")
    session = session_starting(make_session, daytime.now + timedelta(days=12))
    volunteer_id, _ = make_volunteer(phone="0987 000 111", availability=available_for(session))
    client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "helper", "volunteer_id": volunteer_id},
        headers=organizer_headers,
    )
    work(redis_client)
    latest = notifications(kind="assigned")[-1]
    assert (latest.status, latest.channel, latest.refused_channels) == ("sent", "email", "zalo,sms")
    assert len(smtp.messages) == 1


def test_a_rate_limited_send_is_retried_by_the_job_and_sent_once(
    client, make_session, make_volunteer, organizer_headers, redis_client, providers, daytime
):
    providers.rate_limit_next = 1
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    row = assigned_notice()
    assert row.status == "scheduled" and row.attempts == 1  # the job failed; Retry waits
    assert f"ntf-{row.id}" in ScheduledJobRegistry("notifications", connection=redis_client)

    daytime.advance(seconds=11)  # the first back-off (10 s)
    work(redis_client)
    row = assigned_notice()
    assert (row.status, row.channel, row.attempts) == ("sent", "zalo", 2)
    assert len(providers.zns_sent) == 1


def test_a_job_run_twice_sends_once_and_a_retried_send_keeps_its_tracking_id(
    app, client, make_session, make_volunteer, organizer_headers, redis_client, providers, daytime
):
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    row = assigned_notice()
    assert notification_jobs.deliver_notification(row.id) == "already sent"
    assert len(providers.zns_requests) == 1

    # A work-horse that died after ZNS accepted and before our commit: the retry sends
    # the same tracking id, and ZNS does not deliver it twice.
    db.session.execute(
        db.update(Notification).where(Notification.id == row.id).values(status="scheduled")
    )
    db.session.commit()
    assert delivery.deliver(row.id, daytime.now) == "sent"
    assert len(providers.zns_requests) == 2 and len(providers.zns_sent) == 1
    assert {r["tracking_id"] for r in providers.zns_requests} == {str(row.id)}


def test_quiet_hours_hold_zalo_and_sms_until_they_end_but_not_email(
    app,
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    clock,
):
    app.config["ZALO_DELIVERY_MINUTES"] = 0  # no fallback for want of a delivery report here
    tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
    clock.set(datetime.combine(tomorrow, time(22, 30), tzinfo=LOCAL).astimezone(UTC))
    volunteer_id = assign(client, make_session, make_volunteer, organizer_headers, clock)
    work(redis_client)

    row = assigned_notice()
    morning = datetime.combine(tomorrow + timedelta(days=1), time(7, 0), tzinfo=LOCAL)
    assert (row.status, row.held_until) == ("scheduled", morning)
    assert providers.zns_requests == [] and smtp.messages == []
    held_job = f"ntf-{row.id}-held-{int(morning.timestamp())}"
    registry = ScheduledJobRegistry("notifications", connection=redis_client)
    assert registry.get_scheduled_time(held_job) == morning.astimezone(UTC)

    clock.set(morning.astimezone(UTC) - timedelta(minutes=1))
    work(redis_client)
    assert providers.zns_requests == []
    clock.set(morning.astimezone(UTC))
    work(redis_client)
    row = assigned_notice()
    assert (row.status, row.channel) == ("sent", "zalo") and len(providers.zns_sent) == 1

    # Someone who chose email for this kind is not held at night.
    routing.set_order("volunteer", volunteer_id, "assigned", ["email"])
    db.session.commit()
    clock.set(datetime.combine(tomorrow + timedelta(days=1), time(23, 0), tzinfo=LOCAL))
    session = session_starting(make_session, clock.now + timedelta(days=3))
    client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        # another hour than the volunteer's availability: the organizer insists
        json={"role": "helper", "volunteer_id": volunteer_id, "override": True},
        headers=organizer_headers,
    )
    work(redis_client)
    assert (notifications(kind="assigned")[-1].channel, len(smtp.messages)) == ("email", 1)


def test_the_monthly_budget_sends_email_once_reached(
    app,
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    app.config["MESSAGE_BUDGET_VND"] = 300  # one ZNS message
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    assign(client, make_session, make_volunteer, organizer_headers, daytime, email="b@example.vn")
    work(redis_client)
    assert [r.channel for r in notifications(kind="assigned")] == ["zalo", "email"]
    assert routing.spent_vnd("01", daytime.now) == 300


def _signed(body: dict) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    mac = hashlib.sha256(APP_ID.encode() + raw + body["timestamp"].encode() + OA_SECRET.encode())
    return raw, {"X-ZEvent-Signature": f"mac={mac.hexdigest()}", "Content-Type": "application/json"}


def test_zalo_delivery_events_are_stored_only_with_the_oa_signature(
    client, make_session, make_volunteer, organizer_headers, redis_client, providers, daytime
):
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    row = assigned_notice()
    event = {
        "app_id": APP_ID,
        "event_name": "user_received_message",
        "timestamp": str(int(daytime.now.timestamp() * 1000)),
        "message": {
            "msg_id": row.provider_message_id,
            "tracking_id": str(row.id),
            "delivery_time": str(int(daytime.now.timestamp() * 1000)),
        },
    }
    raw, headers = _signed(event)
    forged = {**headers, "X-ZEvent-Signature": "mac=" + "0" * 64}
    assert client.post("/webhooks/zalo", data=raw, headers=forged).status_code == 401
    tampered = raw.replace(b"user_received_message", b"user_received_messagf")
    assert client.post("/webhooks/zalo", data=tampered, headers=headers).status_code == 401
    assert client.post("/webhooks/zalo", data=raw).status_code == 401
    assert assigned_notice().delivery_status == "accepted"  # nothing stored

    assert client.post("/webhooks/zalo", data=raw, headers=headers).status_code == 200
    row = assigned_notice()
    assert (row.delivery_status, row.delivered_at) == ("delivered", daytime.now)


def test_sms_delivery_receipts_need_the_signed_callback_url(
    client, make_session, make_volunteer, organizer_headers, redis_client, providers, daytime
):
    providers.no_zalo.add(PHONE_DIGITS)
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    row = assigned_notice()
    url = esms_callback_url(row.id).removeprefix("http://localhost:5000")
    query = f"?SMSID={row.provider_message_id}&SendStatus=5&phonenumber=0912345678"
    assert client.get(url[:-1] + ("0" if url[-1] != "0" else "1") + query).status_code == 401
    other = esms_callback_url(row.id + 1).removeprefix("http://localhost:5000")
    assert client.get(other.replace(f"/{row.id + 1}/", f"/{row.id}/") + query).status_code == 401
    assert assigned_notice().delivery_status == "accepted"

    answer = client.get(url + query)
    assert answer.status_code == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert assigned_notice().delivery_status == "delivered"


def test_the_preferences_page_chooses_channels_per_kind(
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    volunteer_id = assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    from coordinator.notifications.links import preferences_url

    url = preferences_url("volunteer", volunteer_id).removeprefix("http://localhost:5000")
    page = client.get(url)
    assert 'name="channels-assigned"' in page.text
    assert '<option value="zalo,sms,email" selected>' in page.text  # the default

    kinds = ["assigned", "reminder_1d"]
    saved = client.post(url, data={"kind": kinds, "channels-assigned": "sms,email"})
    assert saved.status_code == 200 and '<option value="sms,email" selected>' in saved.text
    assert routing.order_for("volunteer", volunteer_id, "assigned") == ("sms", "email")
    assert routing.order_for("volunteer", volunteer_id, "reminder_1d") == ("zalo", "sms", "email")

    session = session_starting(make_session, daytime.now + timedelta(days=12))
    client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        # another hour than the volunteer's availability: the organizer insists
        json={"role": "helper", "volunteer_id": volunteer_id, "override": True},
        headers=organizer_headers,
    )
    work(redis_client)
    assert [r.channel for r in notifications(kind="assigned")] == ["zalo", "sms"]


def test_no_phone_name_or_need_reaches_redis_a_log_or_a_provider_beyond_the_address(
    client, make_session, organizer_headers, redis_client, smtp, providers, daytime, caplog
):
    from tests.app.test_sensitive_data import redis_contents

    caplog.set_level(logging.DEBUG)
    session = session_starting(make_session, daytime.now + timedelta(days=5))
    created = client.post(
        "/api/v1/participants",
        json={
            "full_name": "Markername Bảy",
            "ward": "kim_lien",
            "target_group": "residents",
            "accessibility_needs": ["low_vision"],
            "contact": "0987 000 333",
            "guardian_contact": "0987 000 222",
        },
        headers=organizer_headers,
    )
    assert created.status_code == 201, created.json
    registered = client.post(
        f"/api/v1/sessions/{session['id']}/registrations",
        json={"participant_id": created.json["id"]},
        headers=organizer_headers,
    )
    assert registered.status_code == 201
    providers.no_zalo.add("84987000222")  # the guardian has no Zalo: SMS
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"venue": "Nhà văn hóa tổ 5"},
        headers=organizer_headers,
    )
    assert moved.status_code == 200
    work(redis_client)

    [zns] = [r for r in providers.zns_requests if r["phone"] == "84987000222"]
    [sms] = providers.sms_requests
    assert sms["Phone"] == "0987000222"  # the guardian's, not the participant's own
    for sent in (json.dumps(zns["template_data"], ensure_ascii=False), sms["Content"]):
        assert "Markername" not in sent and "low_vision" not in sent and "Thị lực" not in sent
        assert "Nhà văn hóa tổ 5" in sent
    stored = redis_contents(redis_client)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for marker in ("987000222", "987000333", "987 000", "Markername"):
        assert marker not in stored, marker
        assert marker not in logged, marker


def test_a_zalo_message_not_delivered_within_15_minutes_goes_by_the_next_channel_once(
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    assign(client, make_session, make_volunteer, organizer_headers, daytime, email="c@example.vn")
    work(redis_client)
    first, second = notifications(kind="assigned")
    assert (first.channel, second.channel) == ("zalo", "zalo")
    event = {
        "app_id": APP_ID,
        "event_name": "user_received_message",
        "timestamp": str(int(daytime.now.timestamp() * 1000)),
        "message": {"msg_id": second.provider_message_id},
    }
    raw, headers = _signed(event)
    assert client.post("/webhooks/zalo", data=raw, headers=headers).status_code == 200

    daytime.advance(minutes=14)
    work(redis_client)
    assert providers.sms_requests == []
    daytime.advance(minutes=1)
    work(redis_client)
    first, second = notifications(kind="assigned")
    assert (first.status, first.channel, first.refused_channels) == ("sent", "sms", "zalo")
    assert first.price_vnd == 300 + 800  # both sends are counted
    assert (second.channel, second.delivery_status) == ("zalo", "delivered")  # no fallback
    assert len(providers.sms_requests) == 1

    daytime.advance(minutes=30)  # once: nothing more
    work(redis_client)
    assert len(providers.sms_requests) == 1 and smtp.messages == []


def test_organizers_see_messages_and_estimated_cost_per_province_and_month(
    app,
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    providers.no_zalo.add("84987000111")
    session = session_starting(make_session, daytime.now + timedelta(days=12))
    volunteer_id, _ = make_volunteer(phone="0987 000 111", availability=available_for(session))
    client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "helper", "volunteer_id": volunteer_id},
        headers=organizer_headers,
    )
    work(redis_client)
    assert routing.costs(daytime.now) == [("01", "sms", 1, 800), ("01", "zalo", 1, 300)]
    month = daytime.now.astimezone(LOCAL).strftime("%Y-%m")
    result = app.test_cli_runner().invoke(args=["notifications", "costs", "--month", month])
    assert result.exit_code == 0, result.output
    assert "01\tsms\t1\t800" in result.output and "total\t\t2\t1100" in result.output


def test_access_logs_keep_neither_the_callback_signature_nor_the_phone_number():
    from coordinator.notifications.pages import LinkTokenFilter

    line = '"GET /webhooks/esms/12/9f8e7d?SMSID=s-1&SendStatus=5&phonenumber=0901888484 HTTP/1.1"'
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, line, None, None)
    LinkTokenFilter().filter(record)
    assert record.getMessage() == (
        '"GET /webhooks/esms/12/[redacted]?SMSID=s-1&SendStatus=5&phonenumber=[redacted] HTTP/1.1"'
    )


def test_a_channel_that_refuses_for_good_hands_over_to_the_next(
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    smtp,
    providers,
    daytime,
):
    providers.zns_error = -109  # template id invalid: not a retry, not the person's fault
    providers.blocked_sms.add("0912345678")
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client)
    row = assigned_notice()
    assert (row.status, row.channel, row.refused_channels) == ("sent", "email", "zalo,sms")
    assert len(smtp.messages) == 1


@pytest.mark.slow
def test_a_work_horse_killed_after_zalo_accepted_is_retried_and_zalo_delivers_once(
    app,
    client,
    runner,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    providers,
    daytime,
):
    app.config["QUIET_HOURS"] = "00:00-00:00"  # RQ's retry time is the real clock's
    assign(client, make_session, make_volunteer, organizer_headers, daytime)
    work(redis_client, queues=("default",))  # plan; the notifications queue waits
    providers.kill_after_accept = True

    # A real forking worker (flask worker): its horse dies after ZNS accepted the message
    # and before our commit.
    db.session.remove()
    result = runner.invoke(args=["worker", "--burst", "--queues", "notifications"])
    assert result.exit_code == 0, result.output
    assert len(providers.killed) == 1 and len(providers.zns_sent) == 1
    row = assigned_notice()
    assert (row.status, row.attempts) == ("scheduled", 1)
    retry_at = ScheduledJobRegistry("notifications", connection=redis_client).get_scheduled_time(
        row.job_id
    )

    daytime.set(retry_at)
    result = runner.invoke(args=["worker", "--burst", "--queues", "notifications"])
    assert result.exit_code == 0, result.output
    row = assigned_notice()
    assert (row.status, row.channel, row.attempts) == ("sent", "zalo", 2)
    # The retry carried the same tracking id, and ZNS delivers a tracking id once.
    assert [r["tracking_id"] for r in providers.zns_requests] == [str(row.id)] * 2
    assert len(providers.zns_sent) == 1
