"""The reminder ladder on real RQ workers with the test clock, by Zalo and SMS against the
local provider servers: one-tap answers in every channel (a "no" frees the seat and
moves the waitlist up in the same request), a second tap shows the first answer, quiet
hours hold Zalo and SMS except within two hours of the start, cancellation drops the
ladder and voids its links, and the organizer's list of who did not confirm."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.notifications.models import AnswerToken
from coordinator.people.models import User
from jobs import notifications as notification_jobs
from tests.notifications.notification_helpers import (
    HANOI,
    body_text,
    day_before_at,
    in_one_language,
    make_participant,
    notifications,
    register,
    session_starting,
    sign_up,
    subjects,
    visit,
    work,
)
from tests.notifications.provider_servers import provider_servers
from tests.page_helpers import log_in

BASE = "http://localhost:5000"
ONE_SEAT = [{"role": "helper", "count": 1, "required_skills": []}]


@pytest.fixture
def providers(app):
    yield from provider_servers(app)


def evening_in(days: int, hour: int = 18) -> datetime:
    """`hour`:00 local, `days` local days from today."""
    day = datetime.now(HANOI).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=HANOI)


def status_of(assignment_id: int) -> str:
    db.session.expire_all()
    status = db.session.get(Assignment, assignment_id).status
    db.session.commit()
    return status


def organizer_email() -> str:
    email = db.session.scalar(sa.select(User.email).where(User.role == "organizer"))
    db.session.commit()
    return email


def organizer_messages(smtp) -> list:
    return smtp.to(organizer_email())


def test_the_day_before_carries_one_tap_answers_by_zalo_and_by_sms_and_a_no_moves_the_waitlist(
    client, make_session, make_volunteer, redis_client, smtp, providers, clock
):
    start = evening_in(10)
    session = session_starting(make_session, start, roles=ONE_SEAT)
    _, by_zalo = make_volunteer(phone="0912 345 601")
    seat = sign_up(client, session["id"], by_zalo)
    waiting_id, waiting = make_volunteer(phone="0912 345 602")
    queued = sign_up(client, session["id"], waiting)
    assert (seat["status"], queued["status"]) == ("confirmed", "waitlisted")
    work(redis_client)

    clock.set(day_before_at(start, 11))
    work(redis_client)
    [zns] = [r for r in providers.zns_requests if r["template_id"] == "300002"]
    data = zns["template_data"]
    assert zns["phone"] == "84912345601"
    assert {"confirm_url", "cancel_url", "url"} <= set(data)
    confirm = data["confirm_url"].removeprefix(BASE)
    cancel = data["cancel_url"].removeprefix(BASE)
    assert re.fullmatch(r"/notifications/answer/[\w-]{43}/accept", confirm)
    assert data["url"] == f"{BASE}/n/{confirm.split('/')[3]}"  # the short page

    # Looking changes nothing; the page offers one button, without a login.
    shown = (session["title"], session["venue"])
    page = visit(client, cancel)
    assert page.status_code == 200 and "Không tham gia được" in in_one_language(page, "vi", *shown)
    english = in_one_language(visit(client, cancel, english=True), "en", *shown)
    assert "Are you still coming to this session?" in english and "Can't make it" in english
    assert "“Can't make it” gives your place to someone else." in english
    assert status_of(seat["id"]) == "confirmed"

    # "Không tham gia được": the seat is freed and the waitlist moves up at once, in the
    # same request (no worker has run).
    done = visit(client, cancel, post=True)
    assert done.status_code == 200 and "không tham gia được" in in_one_language(done, "vi")
    assert (status_of(seat["id"]), status_of(queued["id"])) == ("withdrawn", "confirmed")
    [token] = db.session.scalars(sa.select(AnswerToken)).all()
    assert (token.action, token.assignment_id) == ("decline", seat["id"])
    db.session.commit()

    # A second tap, on either link, shows the first answer and does nothing.
    for again in (client.post(confirm), client.get(cancel), client.get(data["url"][len(BASE) :])):
        assert again.status_code == 200 and "đã được dùng" in again.text
        assert "không tham gia được" in again.text and "<button" not in again.text.split("<main")[1]
    assert status_of(seat["id"]) == "withdrawn"

    # The promoted volunteer is told, and gets the rest of the ladder (by SMS here: Zalo
    # has no account for that number); the SMS carries the short link to both answers.
    providers.no_zalo.add("84912345602")
    work(redis_client)
    assert {r.kind for r in notifications(recipient_id=waiting_id, status="scheduled")} == {
        "reminder_2h"
    }
    clock.set(start - timedelta(hours=2))
    work(redis_client)
    texts = [r["Content"] for r in providers.sms_requests if r["Phone"] == "0912345602"]
    assert [t.split(":")[0] for t in texts] == ["Bạn đã có chỗ", "Còn 2 giờ"]
    short = {"Content": texts[1]}
    assert f"{start:%H:%M}" in short["Content"] and session["venue"] in short["Content"]
    assert len(short["Content"]) <= 320


def test_an_sms_day_before_reminder_links_to_a_page_with_both_answers_and_confirms_once(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, providers, clock
):
    start = evening_in(9)
    session = session_starting(make_session, start)
    volunteer_id, headers = make_volunteer(phone="0912 345 603")
    seat = sign_up(client, session["id"], headers)
    _, quiet = make_volunteer(full_name="Hoàng Văn Im")  # never answers
    sign_up(client, session["id"], quiet)
    providers.no_zalo.add("84912345603")
    work(redis_client)

    clock.set(day_before_at(start, 11))
    work(redis_client)
    to_volunteer = [r for r in providers.sms_requests if r["Phone"] == "0912345603"]
    assert [r["Content"].split(":")[0] for r in to_volunteer] == ["Đã xác nhận", "Ngày mai"]
    sms = to_volunteer[1]
    short = re.search(r"http://localhost:5000(/n/[\w-]{43})$", sms["Content"])[1]
    # The job run again sends nothing more and issues no other link.
    [reminder] = notifications(kind="reminder_1d", recipient_id=volunteer_id)
    assert notification_jobs.deliver_notification(reminder.id) == "already sent"
    assert len([r for r in providers.sms_requests if r["Phone"] == "0912345603"]) == 2

    page = client.get(short)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    forms = re.findall(r'<form method="post" action="(/notifications/answer/[^"]+)"', page.text)
    assert [f.rsplit("/", 1)[1] for f in forms] == ["accept", "decline"]
    assert client.post(forms[0]).status_code == 200
    assert client.post(forms[0]).status_code == 200  # a double tap acts once
    assert status_of(seat["id"]) == "confirmed"

    # The evening before, the organizer hears of the one who did not confirm, and the
    # staffing page lists them.
    clock.set(day_before_at(start, 19))
    work(redis_client)
    [listing] = [m for m in organizer_messages(smtp) if "Chưa xác nhận" in m["Subject"]]
    text = body_text(listing)
    assert "Hoàng Văn Im" in text and "Nguyễn Thị Lan" not in text
    log_in(client, organizer_email())
    page = client.get("/organize/")
    section = page.text[page.text.index('id="unconfirmed-title"') :]
    assert "Hoàng Văn Im" in section and session["title"] in section
    assert "Nguyễn Thị Lan" not in section


def test_quiet_hours_hold_the_ladder_by_zalo_except_within_two_hours_of_the_start(
    app, client, make_session, make_volunteer, redis_client, smtp, providers, clock
):
    app.config["REMINDER_DAY_BEFORE_AT"] = "22:00"  # inside the quiet hours (21:00-07:00)
    start = evening_in(8, hour=23)  # its 2-hour reminder at 21:00: quiet, but urgent
    session = session_starting(make_session, start)
    _, headers = make_volunteer(phone="0912 345 604")
    sign_up(client, session["id"], headers)
    work(redis_client)
    [day_before] = notifications(kind="reminder_1d")
    assert day_before.scheduled_for == day_before_at(start, 22)

    clock.set(day_before_at(start, 22))
    work(redis_client)
    [held] = notifications(kind="reminder_1d")
    assert held.status == "scheduled" and held.held_until == day_before_at(start, 7) + timedelta(
        days=1
    )
    assert not [r for r in providers.zns_requests if r["template_id"] == "300002"]

    clock.set(held.held_until)  # 07:00: the quiet hours end, the message goes
    work(redis_client)
    assert [r["template_id"] for r in providers.zns_requests].count("300002") == 1
    assert notifications(kind="reminder_1d")[0].status == "sent"

    clock.set(start - timedelta(hours=2))  # 21:00, quiet, but the session is close
    work(redis_client)
    [two_hours] = notifications(kind="reminder_2h")
    assert (two_hours.status, two_hours.channel, two_hours.held_until) == ("sent", "zalo", None)


def test_cancelling_the_session_drops_the_ladder_and_voids_its_one_tap_links(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, providers, clock
):
    start = evening_in(9)
    session = session_starting(make_session, start)
    _, headers = make_volunteer(phone="0912 345 605")
    sign_up(client, session["id"], headers)
    work(redis_client)
    clock.set(day_before_at(start, 11))
    work(redis_client)
    [zns] = [r for r in providers.zns_requests if r["template_id"] == "300002"]
    short = zns["template_data"]["url"].removeprefix(BASE)
    confirm = zns["template_data"]["confirm_url"].removeprefix(BASE)

    response = client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mất điện"},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    work(redis_client)
    ladder = {"reminder_2h", "unconfirmed_volunteers"}
    assert {(r.kind, r.reason) for r in notifications(status="dropped")} >= {
        (kind, "session_cancelled") for kind in ladder
    }
    for link in (client.get(short), client.get(confirm), client.post(confirm)):
        main = link.text[link.text.index("<main") :]
        assert link.status_code == 410 and "Buổi học đã hủy" in main and "<button" not in main
    clock.set(start - timedelta(hours=2))
    work(redis_client)
    assert [r["template_id"] for r in providers.zns_requests].count("300005") == 0


def test_participants_get_the_day_before_and_two_hour_reminders_at_the_contact_given(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, providers, clock
):
    start = evening_in(9)
    session = session_starting(make_session, start)
    _, lead = make_volunteer(phone="0912 345 606", is_expert=True)
    sign_up(client, session["id"], lead, role="lead")
    # Registered by an organizer: an English-speaking minor reached at the guardian's
    # phone only, and an adult reached by email only, in Vietnamese.
    minor = make_participant("Phạm Minh", "0987 654 300", [], guardian="0987 654 301", locale="en")
    adult = make_participant("Lê Thị Tư", "tu@example.vn", [])
    for participant_id in (minor, adult):
        register(client, session["id"], participant_id, organizer_headers)
    providers.no_zalo.add("84987654301")  # SMS then
    work(redis_client)

    clock.set(day_before_at(start, 11))
    work(redis_client)
    clock.set(start - timedelta(hours=2))
    work(redis_client)
    to_guardian = [r["Content"] for r in providers.sms_requests if r["Phone"] == "0987654301"]
    assert [c.split(":")[0] for c in to_guardian] == ["Tomorrow", "In 2 hours"]
    assert "Lead: +84912345606" in to_guardian[1]  # the 2-hour one: time, place, lead
    assert "/n/" not in to_guardian[0]  # one-tap answers are volunteers' (their seat)
    assert not [r for r in providers.sms_requests if r["Phone"] == "0987654300"]
    assert subjects(smtp.to("tu@example.vn")) == ["Ngày mai"]  # the 2-hour one is by phone
    [unreachable] = notifications(kind="reminder_2h", recipient_id=adult)
    assert (unreachable.status, unreachable.reason) == ("dropped", "no_address")
