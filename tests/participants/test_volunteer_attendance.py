"""Attendance of volunteers (attended, late, no_show, excused per confirmed booking),
recorded by the session's lead or an organizer within the check-in window, which
participants' check-in obeys too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import User
from coordinator.sessions.models import TrainingSession
from tests.api_helpers import assert_error
from tests.page_helpers import csrf_token, log_in, text
from tests.participants.conftest import start_now


def _url(lesson) -> str:
    return f"/api/v1/sessions/{lesson['session']['id']}/volunteer-attendance"


def _bookings(lesson) -> dict[str, int]:
    """Role -> assignment id of the lesson's lead and helper."""
    return {
        entry["role"]: entry["assignment_id"]
        for entry in [
            {"role": a.role.role, "assignment_id": a.id}
            for a in db.session.scalars(
                sa.select(Assignment).where(Assignment.session_id == lesson["session"]["id"])
            )
        ]
    }


def test_the_lead_records_volunteers_and_the_sheet_shows_it(client, lesson):
    start_now(lesson["session"]["id"])
    booked = _bookings(lesson)
    sheet = client.get(_url(lesson), headers=lesson["lead"])
    assert sheet.status_code == 200
    assert [(e["role"], e["attendance"]) for e in sheet.json] == [("lead", None), ("helper", None)]
    saved = client.put(
        _url(lesson),
        json=[
            {"assignment_id": booked["lead"], "status": "attended"},
            {"assignment_id": booked["helper"], "status": "late"},
        ],
        headers=lesson["lead"],
    )
    assert saved.status_code == 200, saved.json
    assert [(e["role"], e["attendance"]) for e in saved.json] == [
        ("lead", "attended"),
        ("helper", "late"),
    ]
    assert all(e["recorded_at"] for e in saved.json)
    event = db.session.scalar(
        sa.select(DomainEvent).where(DomainEvent.type == "attendance.volunteers_recorded")
    )
    assert event.payload["entries"] == [
        {"assignment_id": booked["lead"], "status": "attended"},
        {"assignment_id": booked["helper"], "status": "late"},
    ]
    assert "full_name" not in str(event.payload)


def test_an_organizer_records_and_the_helper_may_not(client, lesson, organizer_headers):
    start_now(lesson["session"]["id"])
    booked = _bookings(lesson)
    body = [{"assignment_id": booked["helper"], "status": "no_show"}]
    assert client.put(_url(lesson), json=body, headers=lesson["helper"]).status_code == 404
    assert client.put(_url(lesson), json=body, headers=organizer_headers).status_code == 200
    assert db.session.get(Assignment, booked["helper"]).attendance == "no_show"
    assert db.session.get(Assignment, booked["helper"]).attended is False


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"assignment_id": 999_999, "status": "attended"}, "assignment_id"),
        ({"status": "sick"}, "status"),
        ({"status": None}, "status"),
        ({}, "status"),
    ],
)
def test_bad_entries_change_nothing(client, lesson, entry, field):
    """Errors are keyed by the entry's index, then its field (as marshmallow keys them)."""
    start_now(lesson["session"]["id"])
    booked = _bookings(lesson)
    body = [
        {"assignment_id": booked["lead"], "status": "attended"},
        {"assignment_id": booked["helper"], **entry},
    ]
    response = client.put(_url(lesson), json=body, headers=lesson["lead"])
    assert assert_error(response, 422)["messages"]["1"][field]
    assert db.session.scalars(sa.select(Assignment.attendance)).all() == [None, None]


@pytest.mark.parametrize(
    "started_minutes_ago, allowed",
    [
        (2 * 60 - 1, True),  # under way: ends in a minute
        (-(2 * 60 - 1), True),  # starts in 1 h 59 min: the window has opened
        (-(2 * 60 + 1), False),  # starts in 2 h 1 min: not yet
        (2 * 60 + 7 * 24 * 60 - 1, True),  # ended 7 days less a minute ago
        (2 * 60 + 7 * 24 * 60 + 1, False),  # ended 7 days and a minute ago
    ],
)
def test_the_check_in_window(client, lesson, started_minutes_ago, allowed):
    start_now(lesson["session"]["id"], minutes_ago=started_minutes_ago)
    booked = _bookings(lesson)
    volunteers = client.put(
        _url(lesson),
        json=[{"assignment_id": booked["helper"], "status": "attended"}],
        headers=lesson["lead"],
    )
    participants = client.put(
        f"/api/v1/sessions/{lesson['session']['id']}/attendance",
        json={"entries": [{"registration_id": lesson["registration"], "attended": True}]},
        headers=lesson["lead"],
    )
    if allowed:
        assert (volunteers.status_code, participants.status_code) == (200, 200)
    else:
        assert_error(volunteers, 409)
        assert_error(participants, 409)
        assert volunteers.json["error"] == participants.json["error"] == "checkin_closed"
        assert db.session.scalars(sa.select(Assignment.attendance)).all() == [None, None]


def test_the_window_follows_the_configuration(app, client, lesson):
    start_now(lesson["session"]["id"], minutes_ago=-5 * 60)  # starts in 5 hours
    booked = _bookings(lesson)
    body = [{"assignment_id": booked["helper"], "status": "excused"}]
    assert client.put(_url(lesson), json=body, headers=lesson["lead"]).status_code == 409
    app.config["CHECKIN_OPENS_HOURS"] = 6
    assert client.put(_url(lesson), json=body, headers=lesson["lead"]).status_code == 200


def test_a_cancelled_session_takes_no_attendance(client, lesson):
    start_now(lesson["session"]["id"])
    db.session.get(TrainingSession, lesson["session"]["id"]).status = "cancelled"
    db.session.commit()
    booked = _bookings(lesson)
    body = [{"assignment_id": booked["helper"], "status": "attended"}]
    assert_error(client.put(_url(lesson), json=body, headers=lesson["lead"]), 409)


def _log_in_lead(client) -> None:
    lead = db.session.scalar(sa.select(User).where(User.role == "volunteer").order_by(User.id))
    log_in(client, lead.email)


def test_the_check_in_page_records_volunteers(client, lesson):
    start_now(lesson["session"]["id"])
    booked = _bookings(lesson)
    _log_in_lead(client)
    page = f"/checkin/{lesson['session']['id']}"
    html = text(client.get(page))
    assert 'name="section" value="volunteers"' in html
    for status in ("attended", "late", "no_show", "excused"):
        assert f'id="volunteer-{booked["helper"]}-{status}"' in html
        assert f'for="volunteer-{booked["helper"]}-{status}"' in html
    saved = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "section": "volunteers",
            f"volunteer-{booked['lead']}": "attended",
            f"volunteer-{booked['helper']}": "no_show",
        },
    )
    assert saved.status_code == 302
    db.session.rollback()
    assert db.session.get(Assignment, booked["helper"]).attendance == "no_show"
    html = text(client.get(page))
    assert 'value="no_show" checked' in html


def test_the_check_in_page_outside_the_window(client, lesson):
    start_now(lesson["session"]["id"], minutes_ago=-3 * 60)  # starts in 3 hours
    booked = _bookings(lesson)
    _log_in_lead(client)
    page = f"/checkin/{lesson['session']['id']}"
    html = text(client.get(page))
    assert "Có thể điểm danh từ" in html and "disabled" in html
    refused = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "section": "volunteers",
            f"volunteer-{booked['helper']}": "attended",
        },
    )
    assert refused.status_code == 409
    db.session.rollback()
    assert db.session.get(Assignment, booked["helper"]).attendance is None
