"""Delivery over a real SMTP server (aiosmtpd on loopback) and real RQ workers: what a
message looks like, exactly once from the recipient's view, retries, and privacy."""

from __future__ import annotations

import email
import logging
import sys
from datetime import timedelta
from email import policy

import pytest
import vobject
from icalendar import Calendar
from rq.registry import ScheduledJobRegistry

from coordinator.database import utcnow
from coordinator.events import dispatch
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications import planning, scheduling
from jobs import notifications as notification_jobs
from tests.api_helpers import ANY_TIME
from tests.notifications.notification_helpers import (
    body_text,
    calendar_part,
    make_participant,
    notifications,
    register,
    session_starting,
    sign_up,
    work,
)


def assign(client, session_id: int, volunteer_id: int, headers: dict) -> dict:
    """An organizer books a volunteer directly: an immediate 'assigned' notice."""
    response = client.post(
        f"/api/v1/sessions/{session_id}/assignments",
        json={"role": "helper", "volunteer_id": volunteer_id},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    return response.json["assignments"][0]


def test_a_reminder_is_text_and_html_in_the_recipients_language_with_the_session_attached(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=3)
    session = session_starting(make_session, start, title="Zalo & <VNeID> cho người cao tuổi")
    _, english = make_volunteer(locale="en", full_name="Nguyễn Văn An")
    _, vietnamese = make_volunteer(locale="vi")
    sign_up(client, session["id"], english)
    sign_up(client, session["id"], vietnamese, role="helper")
    work(redis_client)
    clock.set(start - timedelta(hours=2))
    work(redis_client)

    tomorrow = ("Tomorrow", "Ngày mai")
    by_language = {
        m["Content-Language"]: m for m in smtp.messages if m["Subject"].startswith(tomorrow)
    }
    message = by_language["en"]
    assert message["Subject"] == "Tomorrow: Zalo & <VNeID> cho người cao tuổi"
    assert message["To"].addresses[0].display_name == "Nguyễn Văn An"
    # multipart/mixed: [multipart/alternative: [text/plain, text/html], text/calendar]
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert "is tomorrow" in body_text(message)
    html = message.get_body(("html",)).get_content()
    assert "Zalo &amp; &lt;VNeID&gt;" in html and "<VNeID>" not in html  # escaped
    assert by_language["vi"]["Subject"].startswith("Ngày mai: ")

    attachment = calendar_part(message)
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "buoi-hoc.ics"
    calendar = Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"session-{session['id']}@localhost"  # as in the feeds
    assert event.decoded("DTSTART") == start

    # Reminders are optional: RFC 8058 one-click unsubscribe, written as plain URLs.
    raw = smtp.raw[smtp.messages.index(message)]
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert b"\r\nList-Unsubscribe: <http://localhost:5000/notifications/unsubscribe/" in raw
    assert (
        message["Message-ID"].startswith("<ntf-") and message["Auto-Submitted"] == "auto-generated"
    )


def test_a_job_or_an_event_handled_twice_sends_once(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    session = session_starting(make_session, clock.now + timedelta(days=10))
    volunteer_id, _ = make_volunteer(availability=ANY_TIME)
    assign(client, session["id"], volunteer_id, organizer_headers)
    work(redis_client)
    [notice] = notifications(kind="assigned")
    assert notice.status == "sent" and notice.attempts == 1
    assert len(smtp.messages) == 1

    # The same job again (a duplicate or a retry after success) is a no-op...
    assert notification_jobs.deliver_notification(notice.id) == "already sent"
    # ...Redis refuses a second job for the row...
    assert scheduling.schedule_deliveries([notice.id]) == 0
    # ...and planning the same event again plans nothing new.
    event = db.session.scalar(
        db.select(DomainEvent).where(DomainEvent.type == "assignment.created")
    )
    assert dispatch.process_event(event.id) == "already processed"
    assert not planning.plan_for_event(event, clock())
    db.session.rollback()
    work(redis_client)
    assert len(smtp.messages) == 1
    assert len(notifications(kind="assigned")) == 1


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the horse in /proc")
def test_a_work_horse_killed_mid_send_is_retried_with_backoff_and_sends_once(
    app, client, runner, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    session = session_starting(make_session, clock.now + timedelta(days=10))
    volunteer_id, _ = make_volunteer(availability=ANY_TIME)
    assign(client, session["id"], volunteer_id, organizer_headers)
    work(redis_client, queues=("default",))  # plan; the notifications queue waits
    smtp.kill_next_sender = True

    # A real forking worker (flask worker): the horse dies in the middle of SMTP DATA.
    db.session.remove()
    result = runner.invoke(args=["worker", "--burst", "--queues", "notifications"])
    assert result.exit_code == 0, result.output

    assert len(smtp.killed) == 1 and smtp.messages == []
    [notice] = notifications(kind="assigned")
    assert (notice.status, notice.attempts) == ("scheduled", 1)
    # RQ saw the horse die and scheduled a retry with the first back-off (10 s).
    registry = ScheduledJobRegistry("notifications", connection=redis_client)
    retry_at = registry.get_scheduled_time(notice.job_id)
    assert timedelta(seconds=5) < retry_at - clock.now < timedelta(seconds=60)

    clock.set(retry_at)
    result = runner.invoke(args=["worker", "--burst", "--queues", "notifications"])
    assert result.exit_code == 0, result.output
    [notice] = notifications(kind="assigned")
    assert (notice.status, notice.attempts) == ("sent", 2)
    assert len(smtp.messages) == 1  # once, though the job ran twice


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_not(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    session = session_starting(make_session, clock.now + timedelta(days=10))
    busy_id, _ = make_volunteer(email="busy@example.vn", availability=ANY_TIME)
    gone_id, _ = make_volunteer(email="gone@example.vn", availability=ANY_TIME)
    smtp.refuse = {
        "busy@example.vn": "451 4.2.1 Mailbox busy, try later",
        "gone@example.vn": "550 5.1.1 No such user",
    }
    for volunteer_id in (busy_id, gone_id):
        assign(client, session["id"], volunteer_id, organizer_headers)
    work(redis_client)

    busy, gone = (notifications(kind="assigned", recipient_id=v)[0] for v in (busy_id, gone_id))
    assert (gone.status, gone.reason) == ("failed", "smtp_550")
    assert (busy.status, busy.attempts) == ("scheduled", 1)
    retries = ScheduledJobRegistry("notifications", connection=redis_client)
    assert busy.job_id in retries.get_job_ids() and gone.job_id not in retries.get_job_ids()

    smtp.refuse = {}
    clock.set(retries.get_scheduled_time(busy.job_id))
    work(redis_client)
    busy = notifications(kind="assigned", recipient_id=busy_id)[0]
    assert (busy.status, busy.attempts) == ("sent", 2)
    assert [m["To"].addresses[0].addr_spec for m in smtp.messages] == ["busy@example.vn"]


def test_needs_reach_session_staff_only_as_needs_and_personal_data_stays_out_of_jobs_and_logs(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock, caplog
):
    start = clock.now + timedelta(days=3)
    session = session_starting(make_session, start, participant_needs=[])
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    learner = make_participant(
        "Đỗ Thị Kín", "kin.private@example.vn", ["sign_language", "low_vision"]
    )
    other = make_participant("Vũ Văn Khác", "khac@example.vn", [])
    for participant_id in (learner, other):
        register(client, session["id"], participant_id, organizer_headers)
    caplog.set_level(logging.DEBUG)
    work(redis_client)
    clock.set(start - timedelta(hours=3))  # after 11:00 the day before
    work(redis_client)

    staff = next(
        m
        for m in smtp.messages
        if "lan" in m["To"].addresses[0].addr_spec and m["Subject"].startswith("Ngày mai")
    )
    staff_text = body_text(staff)
    assert "Ngôn ngữ ký hiệu" in staff_text and "Hỗ trợ người nhìn kém" in staff_text
    assert "Kín" not in staff_text and "kin.private" not in staff_text
    to_other = next(m for m in smtp.messages if m["To"].addresses[0].addr_spec == "khac@example.vn")
    other_all = to_other.as_string()
    assert "ký hiệu" not in body_text(to_other) and "nhìn kém" not in body_text(to_other)
    assert "Kín" not in other_all and "kin.private" not in other_all

    secrets = ("kin.private@example.vn", "khac@example.vn", "Đỗ Thị Kín", "low_vision")
    stored_in_redis = redis_text(redis_client)
    assert "ntf-" in stored_in_redis  # the jobs are there, with ids only
    # Our logs (the app's, RQ's); the test SMTP server's own log ("mail.log") is not ours.
    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.name != "mail.log"
    )
    assert "notification" in logged
    for secret in secrets:
        assert secret not in stored_in_redis and secret not in logged


def redis_text(redis_client) -> str:
    """Everything Redis holds (jobs, their arguments and results, registries), as text."""
    readers = {
        b"hash": lambda k: redis_client.hgetall(k),
        b"string": lambda k: redis_client.get(k),
        b"list": lambda k: redis_client.lrange(k, 0, -1),
        b"zset": lambda k: redis_client.zrange(k, 0, -1),
        b"set": lambda k: redis_client.smembers(k),
    }
    values = []
    for key in redis_client.scan_iter():
        read = readers.get(redis_client.type(key))
        values.append(repr((key, read(key) if read else None)))
    return "\n".join(values)


def test_without_a_mail_server_messages_are_written_to_the_outbox(
    app, client, make_session, make_volunteer, organizer_headers, redis_client, tmp_path
):
    assert app.config["MAIL_SERVER"] is None
    session = session_starting(make_session, utcnow() + timedelta(days=10))
    volunteer_id, _ = make_volunteer(email="outbox@example.vn", availability=ANY_TIME)
    assign(client, session["id"], volunteer_id, organizer_headers)
    work(redis_client)
    [notice] = notifications(kind="assigned")
    path = tmp_path / "outbox" / f"{notice.job_id}.eml"
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == "outbox@example.vn"
    assert message["Subject"].startswith("Bạn được phân công")
    assert notice.status == "sent"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_the_sweep_resends_a_due_message_whose_job_redis_lost(
    client, runner, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    work(redis_client)
    reminder = notifications(kind="reminder_7d")[0]
    redis_client.flushdb()  # Redis lost everything; the database still knows the plan

    clock.set(reminder.scheduled_for + timedelta(minutes=10))
    db.session.remove()
    result = runner.invoke(args=["notifications", "sweep"])
    assert result.exit_code == 0 and "enqueued 1 messages again" in result.output
    work(redis_client)
    assert notifications(kind="reminder_7d")[0].status == "sent"
    assert [m["Subject"].split(":")[0] for m in smtp.messages] == ["Đã xác nhận", "Còn 7 ngày"]
    # The sweep keeps itself going: the next one waits on the scheduler.
    assert any(
        j.startswith("notifications-sweep-")
        for j in ScheduledJobRegistry("notifications", connection=redis_client).get_job_ids()
    )


def test_a_message_whose_retries_run_out_is_marked_failed_by_the_sweep(
    client, runner, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    session = session_starting(make_session, clock.now + timedelta(days=10))
    volunteer_id, _ = make_volunteer(email="down@example.vn", availability=ANY_TIME)
    smtp.refuse = {"down@example.vn": "421 4.3.2 Service not available"}
    assign(client, session["id"], volunteer_id, organizer_headers)
    work(redis_client)
    [notice] = notifications(kind="assigned")
    retries = ScheduledJobRegistry("notifications", connection=redis_client)
    waits = []
    while notice.job_id in retries.get_job_ids():
        retry_at = retries.get_scheduled_time(notice.job_id)
        waits.append(round((retry_at - utcnow()).total_seconds() / 10) * 10)  # RQ: real time
        clock.set(retry_at)
        work(redis_client)
    assert waits == [10, 60, 300, 900, 3600]  # the back-off grows
    [notice] = notifications(kind="assigned")
    assert (notice.status, notice.attempts) == ("scheduled", 6)  # 1 try + 5 retries

    clock.advance(minutes=10)
    assert runner.invoke(args=["notifications", "sweep"]).exit_code == 0
    [notice] = notifications(kind="assigned")
    assert (notice.status, notice.reason) == ("failed", "retries_exhausted")
    assert smtp.messages == []


def test_a_title_with_a_line_break_still_reaches_the_volunteer_once(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    """Found by an outside probe: a line break in a title (or a name) made the .ics
    attachment unwritable (the calendar's NAME / X-WR-CALNAME was the raw title), so every
    'session changed' and 'cancelled' mail failed after five retries."""
    title = "Buổi học\nđiện thoại; Zalo, VNeID\r\nbuổi 2"
    session = session_starting(
        make_session, clock.now + timedelta(days=5), title=title, venue="Nhà văn hóa\nTổ 5"
    )
    _, headers = make_volunteer(locale="vi", full_name="Lê Thị\u2028Hoa")
    sign_up(client, session["id"], headers)
    work(redis_client)
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"venue": "Nhà văn hóa\nTổ 6", "reason": "Đổi\nphòng"},
        headers=organizer_headers,
    )
    assert moved.status_code == 200, moved.json
    work(redis_client)
    cancelled = client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mưa bão\nnghỉ học"},
        headers=organizer_headers,
    )
    assert cancelled.status_code == 200, cancelled.json
    work(redis_client)
    work(redis_client)  # nothing left to retry: a second pass sends nothing more

    stored_title = "Buổi học\nđiện thoại; Zalo, VNeID\nbuổi 2"  # CRLF stored as LF
    for kind in ("session_changed", "session_cancelled"):
        [row] = notifications(kind=kind)
        assert (row.status, row.attempts) == ("sent", 1), (kind, row.status, row.reason)
    subjects = [m["Subject"] for m in smtp.messages]
    cancel_mails = [m for m in smtp.messages if m["Subject"].startswith("Đã hủy")]
    assert len(cancel_mails) == 1, subjects
    [message] = cancel_mails
    assert "\n" not in message["Subject"]
    assert message["Subject"].endswith("Buổi học điện thoại; Zalo, VNeID buổi 2")
    assert "Mưa bão" in body_text(message)
    calendar = Calendar.from_ical(calendar_part(message).get_content())
    [event] = calendar.walk("VEVENT")
    assert calendar_part(message).get_content_charset() == "utf-8"
    assert str(event["SUMMARY"]) == f"ĐÃ HỦY: {stored_title} (Hỗ trợ)"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["LOCATION"]).startswith("Nhà văn hóa\nTổ 6, ")
    # icalendar keeps the calendar's own names as it read them; vobject unescapes them.
    names = vobject.readOne(calendar_part(message).get_content()).contents
    assert names["x-wr-calname"][0].value == names["name"][0].value == stored_title
