"""Reminders on RQ's scheduler: planned at the right times, sent when due (time driven by
a test clock, never by sleeping), moved with the session, dropped when it is cancelled."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from coordinator.extensions import db
from coordinator.people.models import User
from tests.notifications.notification_helpers import (
    body_text,
    calendar_part,
    day_before_at,
    make_participant,
    notifications,
    register,
    scheduled_jobs,
    session_starting,
    sign_up,
    subjects,
    work,
)


def organizer_email() -> str:
    return db.session.scalar(db.select(User.email).where(User.role == "organizer"))


def test_the_ladder_is_planned_at_its_local_times_and_each_step_is_sent_once_when_due(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer(email="an@example.vn")
    sign_up(client, session["id"], headers)
    work(redis_client)

    rows = notifications(status="scheduled")
    planned = {(r.recipient_kind, r.kind): r.scheduled_for for r in rows}
    # The day before at 11:00 local, the organizer's list of the unconfirmed at 19:00.
    assert planned == {
        ("volunteer", "reminder_7d"): start - timedelta(days=7),
        ("volunteer", "reminder_1d"): day_before_at(start, 11),
        ("volunteer", "reminder_2h"): start - timedelta(hours=2),
        ("user", "unfilled_roles"): start - timedelta(days=3),
        ("user", "unconfirmed_volunteers"): day_before_at(start, 19),
    }
    # Each row has its job waiting on RQ's scheduler for exactly that time.
    assert scheduled_jobs(redis_client) == {r.job_id: r.scheduled_for for r in rows}
    # The ladder starts with the confirmation, at once.
    assert subjects(smtp.messages) == ["Đã xác nhận"]

    confirmed, week, tomorrow = ["Đã xác nhận"], ["Đã xác nhận", "Còn 7 ngày"], ["Ngày mai"]
    for moment, expected in [
        (start - timedelta(days=7, minutes=1), confirmed),
        (start - timedelta(days=7), week),
        (start - timedelta(days=2), week),
        (day_before_at(start, 10, 59), week),
        (day_before_at(start, 11), week + tomorrow),
        # Two hours before goes by Zalo or SMS only: this volunteer has neither.
        (start - timedelta(hours=2), week + tomorrow),
        (start - timedelta(hours=1), week + tomorrow),
    ]:
        clock.set(moment)
        work(redis_client)
        assert subjects(smtp.to("an@example.vn")) == expected, moment

    # The organizer heard three days ahead that roles were open (lead 0/1, helper 1/2),
    # and the evening before that the volunteer had not confirmed.
    alert, unconfirmed = smtp.to(organizer_email())
    assert alert["Subject"].startswith("Còn thiếu người")
    assert "1/2" in body_text(alert) and "0/1" in body_text(alert)
    assert unconfirmed["Subject"].startswith("Chưa xác nhận tham gia")
    assert {r.kind: (r.status, r.reason) for r in notifications()} == {
        "booking_confirmed": ("sent", None),
        "reminder_7d": ("sent", None),
        "reminder_1d": ("sent", None),
        "reminder_2h": ("dropped", "no_address"),
        "unfilled_roles": ("sent", None),
        "unconfirmed_volunteers": ("sent", None),
    }
    assert scheduled_jobs(redis_client) == {}


def test_rescheduling_moves_pending_reminders_and_tells_the_booked(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    work(redis_client)
    before = {r.kind: r for r in notifications(status="scheduled")}
    smtp.messages.clear()  # the confirmation

    # A change of description moves nothing and tells no one.
    response = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"description": "Mang theo CCCD"},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    work(redis_client)
    assert {r.kind: r.id for r in notifications(status="scheduled")} == {
        k: r.id for k, r in before.items()
    }
    assert smtp.messages == []

    moved = start + timedelta(days=3, hours=1)
    response = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"starts_at": moved.isoformat(), "ends_at": (moved + timedelta(hours=2)).isoformat()},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    work(redis_client)

    dropped = notifications(status="dropped")
    assert {r.id for r in dropped} == {r.id for r in before.values()}
    assert {r.reason for r in dropped} == {"no_longer_due"}
    after = {r.kind: r.scheduled_for for r in notifications(status="scheduled")}
    assert after == {
        "reminder_7d": moved - timedelta(days=7),
        "reminder_1d": day_before_at(moved, 11),
        "reminder_2h": moved - timedelta(hours=2),
        "unfilled_roles": moved - timedelta(days=3),
        "unconfirmed_volunteers": day_before_at(moved, 19),
    }
    assert sorted(scheduled_jobs(redis_client).values()) == sorted(after.values())

    # The volunteer hears of the new time at once, with the updated calendar entry.
    [notice] = smtp.messages
    assert notice["Subject"].startswith("Thay đổi lịch")
    assert "List-Unsubscribe" not in notice  # about their booking, not optional
    event = Calendar.from_ical(calendar_part(notice).get_content()).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == moved
    assert event["SEQUENCE"] == 1

    clock.set(start - timedelta(days=7))  # the old time: nothing is due any more
    work(redis_client)
    assert len(smtp.messages) == 1
    clock.set(moved - timedelta(days=7))
    work(redis_client)
    assert [m["Subject"].split(":")[0] for m in smtp.messages] == ["Thay đổi lịch", "Còn 7 ngày"]


def test_cancelling_drops_pending_reminders_and_tells_everyone_booked(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    minor = make_participant("Phạm Minh", "0912 345 678", [], guardian="me.minh@example.vn")
    phone_only = make_participant("Lê Văn Ba", "0987 654 321", [])
    for participant_id in (minor, phone_only):
        register(client, session["id"], participant_id, organizer_headers)
    work(redis_client)
    planned = notifications(status="scheduled")
    assert {(r.recipient_kind, r.kind) for r in planned} == {
        ("volunteer", "reminder_7d"),
        ("volunteer", "reminder_1d"),
        ("volunteer", "reminder_2h"),
        ("participant", "reminder_1d"),
        ("participant", "reminder_2h"),
        ("user", "unfilled_roles"),
        ("user", "unconfirmed_volunteers"),
    } and len(planned) == 9  # both participants get 1d and 2h reminders
    smtp.messages.clear()  # the volunteer's confirmation

    response = client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mưa bão"},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    work(redis_client)

    assert {
        (r.id, r.reason) for r in notifications(status="dropped") if r.id in {p.id for p in planned}
    } == {(p.id, "session_cancelled") for p in planned}
    assert scheduled_jobs(redis_client) == {}
    volunteer, guardian = smtp.messages[0], smtp.messages[1]
    assert volunteer["Subject"].startswith("Đã hủy") and "Mưa bão" in body_text(volunteer)
    assert guardian["To"].addresses[0].addr_spec == "me.minh@example.vn"
    event = Calendar.from_ical(calendar_part(guardian).get_content()).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CANCELLED"
    # A phone number is not an email address: that notice is dropped, and says why.
    [unreachable] = notifications(recipient_id=phone_only, kind="session_cancelled")
    assert (unreachable.status, unreachable.reason) == ("dropped", "no_address")

    for moment in (
        start - timedelta(days=7),
        day_before_at(start, 11),
        day_before_at(start, 19),
        start - timedelta(hours=2),
    ):
        clock.set(moment)
        work(redis_client)
    assert len(smtp.messages) == 2


def test_withdrawal_drops_reminders_and_reaches_the_organizers_daily_digest(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    session = session_starting(make_session, clock.now + timedelta(days=10))
    volunteer_id, headers = make_volunteer(full_name="Trần Thị Hoa")
    assignment = sign_up(client, session["id"], headers)
    work(redis_client)
    response = client.delete(f"/api/v1/signups/{assignment['id']}?reason=Bị ốm", headers=headers)
    assert response.status_code == 200
    work(redis_client)

    assert {r.kind for r in notifications(recipient_kind="volunteer", status="scheduled")} == set()
    [digest] = notifications(kind="organizer_digest")
    local = digest.scheduled_for.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.hour, local.minute) == (18, 0)
    assert timedelta(0) < digest.scheduled_for - clock.now <= timedelta(days=1)

    clock.set(digest.scheduled_for)
    work(redis_client)
    [message] = smtp.to(organizer_email())
    assert message["Subject"].startswith("Tổng hợp ngày")
    text = body_text(message)
    assert "Trần Thị Hoa rút lui" in text and "Bị ốm" in text and session["title"] in text


def test_a_late_booking_gets_only_the_reminders_still_ahead(
    client, make_session, make_volunteer, redis_client, clock
):
    # Booked at noon for 08:00 tomorrow: today's 11:00 reminder is past; 19:00 is ahead.
    clock.set(day_before_at(clock.now + timedelta(days=1), 12))
    session = session_starting(make_session, clock.now + timedelta(hours=20))
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    work(redis_client)
    assert {r.kind for r in notifications(status="scheduled")} == {
        "reminder_2h",
        "unconfirmed_volunteers",
    }


def test_moving_up_from_the_waitlist_is_announced_and_a_filled_role_raises_no_alert(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(
        make_session, start, roles=[{"role": "helper", "count": 1, "required_skills": []}]
    )
    _, first = make_volunteer()
    waiting_id, waiting = make_volunteer(email="cho@example.vn")
    seat = sign_up(client, session["id"], first)
    assert sign_up(client, session["id"], waiting)["status"] == "waitlisted"
    work(redis_client)
    assert client.delete(f"/api/v1/signups/{seat['id']}", headers=first).status_code == 200
    work(redis_client)

    [notice] = smtp.to("cho@example.vn")
    assert notice["Subject"].startswith("Bạn đã có chỗ")
    assert "Vai trò: Tình nguyện viên hỗ trợ" in body_text(notice)
    assert calendar_part(notice) is not None
    reminders = {r.kind for r in notifications(recipient_id=waiting_id, status="scheduled")}
    assert reminders == {"reminder_7d", "reminder_1d", "reminder_2h"}

    clock.set(start - timedelta(days=3))  # the alert's time: the role is full again
    work(redis_client)
    [alert] = notifications(kind="unfilled_roles")
    assert (alert.status, alert.reason) == ("dropped", "filled")
    subjects = [m["Subject"] for m in smtp.to(organizer_email())]
    assert subjects and not any(s.startswith("Còn thiếu người") for s in subjects)  # a digest


def test_a_reminder_that_fell_due_survives_a_booking_event_that_comes_before_it_is_sent(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, first = make_volunteer(email="dau@example.vn")
    sign_up(client, session["id"], first)
    work(redis_client)

    clock.set(start - timedelta(days=7, seconds=-30))  # due; its job not yet run
    _, second = make_volunteer()
    sign_up(client, session["id"], second)  # an event the worker takes first
    work(redis_client)
    assert subjects(smtp.to("dau@example.vn")) == ["Đã xác nhận", "Còn 7 ngày"]
