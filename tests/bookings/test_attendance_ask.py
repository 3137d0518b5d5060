"""One hour after a session its confirmed volunteers are asked whether they came (a real
RQ worker with the test's clock; once, however often the job runs); the one-tap answer
pre-fills the lead's sheet, and the lead's record wins."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from jobs.bookings import ask_attendance
from tests.notifications.notification_helpers import (
    body_text,
    in_one_language,
    notifications,
    visit,
    work,
)
from tests.participants.conftest import start_now

ONE_HELPER = [{"role": "helper", "count": 1, "required_skills": []}]


def _booking(client, session_id, headers) -> int:
    response = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": "helper"}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def _email(volunteer_id: int) -> str:
    email = db.session.get(Volunteer, volunteer_id).email
    db.session.commit()
    return email


def _reread(assignment_id: int) -> Assignment:
    db.session.expire_all()
    row = db.session.get(Assignment, assignment_id)
    db.session.commit()
    return row


def _checkin_page(client, make_user, session_id: int) -> str:
    """The check-in page as an organizer sees it (a browser of its own)."""
    from flask import current_app

    from tests.page_helpers import log_in

    email = make_user("organizer").email
    app = current_app._get_current_object()
    # A context of its own: Flask-WTF caches the CSRF token in g, which would otherwise
    # carry the test client's token to this one.
    with app.app_context():
        own = app.test_client()
        log_in(own, email)
        page = own.get(f"/checkin/{session_id}")
        assert page.status_code == 200, page.status_code
        return page.get_data(as_text=True)


def test_an_hour_after_the_end_each_volunteer_is_asked_once(
    client, make_session, make_volunteer, make_user, organizer_headers, redis_client, smtp, clock
):
    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    booking_id = _booking(client, session["id"], headers)
    work(redis_client)  # the session's events: its ask is scheduled after the end
    assert not notifications(kind="attendance_ask")

    ends = datetime.fromisoformat(session["ends_at"])
    clock.set(ends + timedelta(minutes=59))
    work(redis_client)
    assert not notifications(kind="attendance_ask")  # not before the hour

    clock.set(ends + timedelta(hours=1, seconds=1))
    work(redis_client)
    assert ask_attendance(session["id"]) == "asked 0"  # a second run asks nobody again
    work(redis_client)
    [asked] = notifications(kind="attendance_ask")
    assert (asked.recipient_id, asked.status) == (volunteer_id, "sent")

    [message] = [m for m in smtp.to(_email(volunteer_id)) if "tham gia" in m["Subject"]]
    url = re.search(r"https?://\S+/notifications/answer/\S+/accept", body_text(message)).group(0)
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    title = session["title"]
    page = in_one_language(visit(client, path), "vi", title)
    assert "Tôi đã đến" in page and "Thời gian" in page
    page = in_one_language(visit(client, path, english=True), "en", title)
    assert "Did you come to this session?" in page and "I came" in page
    done = visit(client, path, english=True, post=True)
    assert done.status_code == 200
    assert "Thank you! Your answer is noted." in in_one_language(done, "en")
    assert _reread(booking_id).self_reported_at is not None
    assert client.post(path).status_code == 410  # the link works once

    # The lead's sheet shows it; what the lead (here an organizer) records wins. (The
    # sheet reads the real time: the session moves to now, its check-in open.)
    start_now(session["id"])
    sheet_url = f"/api/v1/sessions/{session['id']}/volunteer-attendance"
    [entry] = client.get(sheet_url, headers=organizer_headers).json
    assert entry["self_reported_at"] is not None and entry["attendance"] is None
    page = _checkin_page(client, make_user, session["id"])
    assert "báo đã đến" in page
    assert re.search(r'value="attended" checked', page) is not None  # pre-filled
    recorded = client.put(
        sheet_url,
        json=[{"assignment_id": booking_id, "status": "no_show"}],
        headers=organizer_headers,
    )
    assert recorded.status_code == 200, recorded.json
    assert _reread(booking_id).attendance == "no_show"


def test_nobody_is_asked_about_a_cancelled_session_or_a_seat_they_left(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    kept = make_session(roles=[{"role": "helper", "count": 2, "required_skills": []}])
    _, stays = make_volunteer()
    left_id, leaves = make_volunteer()
    _booking(client, kept["id"], stays)
    left_booking = _booking(client, kept["id"], leaves)
    client.delete(f"/api/v1/signups/{left_booking}", headers=leaves)
    work(redis_client)
    clock.set(datetime.fromisoformat(kept["ends_at"]) + timedelta(hours=2))
    work(redis_client)
    asked = notifications(kind="attendance_ask")
    assert len(asked) == 1 and asked[0].recipient_id != left_id
    count = db.session.scalar(sa.select(sa.func.count(Assignment.id)))
    db.session.commit()
    assert count == 2


def test_an_ask_whose_job_redis_lost_is_made_by_the_sweep(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    from jobs.notifications import sweep_notifications

    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    _booking(client, session["id"], headers)
    work(redis_client)
    redis_client.flushdb()  # Redis lost the scheduled ask (and everything else)
    clock.set(datetime.fromisoformat(session["ends_at"]) + timedelta(hours=3))
    work(redis_client)
    assert not notifications(kind="attendance_ask")
    sweep_notifications()
    sweep_notifications()  # twice: still one ask
    work(redis_client)
    [asked] = notifications(kind="attendance_ask")
    assert (asked.recipient_id, asked.status) == (volunteer_id, "sent")
