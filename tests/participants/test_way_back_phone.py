"""The way back by phone: /registrations/find takes the Vietnamese mobile number given when
registering and sends one short message (Zalo, else SMS) linking to the person's
registrations, through the outbox, a real RQ worker and local servers speaking Zalo's and
eSMS's protocols; the same answer whether or not the number is known, at most
PHONE_MESSAGES_PER_DAY a day, and not held for quiet hours (the person is waiting)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta

import pytest

from coordinator.participants.way_back import LIST_LINK_DAYS, PHONE_MESSAGES_PER_DAY
from tests.notifications.notification_helpers import HANOI, notifications, work
from tests.notifications.provider_servers import provider_servers
from tests.page_helpers import text
from tests.participants.test_way_back import csrf_token, register, same_words

PHONE, PHONE_DIGITS = "+84912345678", "84912345678"
LINK = re.compile(r"https?://[^/\s]+(/registrations/mine/\S+)")


@pytest.fixture
def providers(app):
    yield from provider_servers(app)


@pytest.fixture
def with_template(app, providers):
    """The providers, with a ZNS template registered for `registration_links`."""
    templates = json.loads(app.config["ZALO_ZNS_TEMPLATES"])
    app.config["ZALO_ZNS_TEMPLATES"] = json.dumps({**templates, "registration_links": "300009"})
    return providers


@pytest.fixture
def at_night(clock):
    """23:00 in Hanoi: inside the quiet hours (21:00-07:00)."""
    tomorrow = datetime.now(HANOI).date() + timedelta(days=1)
    clock.set(datetime.combine(tomorrow, time(23, 0), tzinfo=HANOI).astimezone(UTC))
    return clock


def ask(client, contact: str):
    path = "/registrations/find"
    return client.post(path, data={"contact": contact, "csrf_token": csrf_token(client, path)})


def register_by_phone(client, session_id: int, phone: str = "0912 345 678", **more):
    done = register(client, session_id, for_whom="self", guardian_contact="", contact=phone, **more)
    assert done.status_code == 200, text(done)[:2000]
    return done


def test_a_phone_number_gets_one_zalo_message_linking_to_the_registrations(
    client, make_session, redis_client, with_template, at_night
):
    """A parent who registered two children from one phone gets one message for both."""
    first, second = make_session(), make_session(title="Buổi học thứ hai")
    register_by_phone(client, first["id"])
    register_by_phone(client, second["id"], phone="+84 912 345 678", full_name="Đỗ Minh An")
    work(redis_client)
    assert with_template.zns_requests == []  # registering sends nothing by phone

    known, unknown = ask(client, "0912.345.678"), ask(client, "0987 654 321")
    assert known.status_code == unknown.status_code == 200
    assert "Kiểm tra tin nhắn" in text(known)
    assert same_words(known, "0912.345.678") == same_words(unknown, "0987 654 321")
    work(redis_client)

    # Sent at 23:00 all the same: the person is waiting for it.
    [request] = with_template.zns_requests
    assert request["phone"] == PHONE_DIGITS and request["template_id"] == "300009"
    assert set(request["template_data"]) == {"title", "url"}
    [row] = notifications(kind="registration_links")
    assert (row.status, row.channel, row.held_until) == ("sent", "zalo", None)
    assert with_template.sms_requests == []

    page = client.get(LINK.search(request["template_data"]["url"]).group(1))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert first["title"] in text(page) and "Buổi học thứ hai" in text(page)
    assert "Đỗ Minh Khôi" in text(page) and "Đỗ Minh An" in text(page)
    manage = re.findall(r'href="(/registrations/(?!mine)[^"/?]+)"', text(page))
    assert len(manage) == 2 and all(client.get(m).status_code == 200 for m in manage)


def test_without_zalo_the_link_goes_by_sms_and_a_day_holds_at_most_three(
    client, make_session, redis_client, with_template, clock
):
    session = make_session()
    register_by_phone(client, session["id"])
    work(redis_client)
    with_template.no_zalo.add(PHONE_DIGITS)

    for _ in range(PHONE_MESSAGES_PER_DAY + 1):
        assert ask(client, "0912 345 678").status_code == 200
        work(redis_client)

    sent = with_template.sms_requests
    assert len(sent) == PHONE_MESSAGES_PER_DAY  # the fourth ask sends nothing
    assert sent[0]["Phone"] == "0912345678"
    link = LINK.search(sent[0]["Content"]).group(1)
    assert "Các lượt đăng ký buổi học kỹ năng số của bạn" in sent[0]["Content"]
    assert session["title"] in text(client.get(link))
    assert {r.channel for r in notifications(kind="registration_links")} == {"sms"}


def test_a_minor_is_reached_only_at_the_guardians_number(
    client, make_session, redis_client, with_template
):
    session = make_session()
    done = register(client, session["id"], guardian_contact="0987 111 222")
    assert done.status_code == 200
    work(redis_client)
    ask(client, "0987 111 222")
    work(redis_client)
    [request] = with_template.zns_requests
    assert request["phone"] == "84987111222"


def test_the_list_link_expires_and_a_cancelled_registration_leaves_it(
    app, client, make_session, redis_client, with_template
):
    from coordinator.participants.way_back import list_url

    session = make_session()
    register_by_phone(client, session["id"])
    participant_id = _participant_id()
    fresh = list_url([participant_id], datetime.now(UTC))
    old = list_url([participant_id], datetime.now(UTC) - timedelta(days=LIST_LINK_DAYS, seconds=1))
    path = LINK.search(fresh).group(1)
    assert client.get(LINK.search(old).group(1)).status_code == 404
    assert client.get(path[:-2] + "xx").status_code == 404
    manage = re.search(r'href="(/registrations/(?!mine)[^"/?]+)"', text(client.get(path)))
    client.post(
        f"{manage.group(1)}/cancel", data={"csrf_token": csrf_token(client, manage.group(1))}
    )
    assert session["title"] not in text(client.get(path))


def test_a_contact_that_is_neither_is_refused_with_the_typed_text_kept(client):
    for typed, message in (
        ("0123", "Nhập số di động Việt Nam"),
        ("khong-phai-email", "Hãy nhập một địa chỉ email"),
    ):
        response = ask(client, typed)
        assert response.status_code == 422
        assert message in text(response) and f'value="{typed}"' in text(response)


def _participant_id() -> int:
    import sqlalchemy as sa

    from coordinator.extensions import db
    from coordinator.people.models import Participant

    db.session.rollback()
    return db.session.scalar(sa.select(Participant.id))
