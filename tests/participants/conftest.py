"""The participants' fixtures: a lesson with a lead, a helper and a registered
participant; moving it so that its check-in is open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening

NEEDS_MARKER = "screen_reader"
CONTACT_MARKER = "0912-PRIVATE-555"
GUARDIAN_MARKER = "guardian-PRIVATE@example.vn"


@pytest.fixture
def lesson(client, make_session, make_volunteer, organizer_headers, competences):
    """A session with a confirmed lead and a helper (logged-in clients for both), and a
    participant with needs and contacts registered by an organizer."""
    session = session_at(make_session, tuesday_evening())
    lead_id, lead_headers = make_volunteer(is_expert=True, availability=EVENING)
    helper_id, helper_headers = make_volunteer(availability=EVENING)
    for volunteer_id, role in ((lead_id, "lead"), (helper_id, "helper")):
        booked = client.post(
            f"/api/v1/sessions/{session['id']}/assignments",
            json={"role": role, "volunteer_id": volunteer_id},
            headers=organizer_headers,
        )
        assert booked.status_code == 201, booked.json
    created = client.post(
        "/api/v1/participants",
        json={
            "full_name": "Nguyễn Thị Hoa",
            "ward": "kim_lien",
            "target_group": "residents",
            "accessibility_needs": [NEEDS_MARKER],
            "contact": CONTACT_MARKER,
            "guardian_contact": GUARDIAN_MARKER,
        },
        headers=organizer_headers,
    )
    assert created.status_code == 201, created.json
    registered = client.post(
        f"/api/v1/sessions/{session['id']}/registrations",
        json={"participant_id": created.json["id"]},
        headers=organizer_headers,
    )
    assert registered.status_code == 201, registered.json
    return {
        "session": session,
        "participant": created.json["id"],
        "registration": registered.json["id"],
        "lead": lead_headers,
        "helper": helper_headers,
    }


def start_now(session_id: int, minutes_ago: int = 30) -> None:
    """Move a session so that it started `minutes_ago` (two hours long): check-in is open."""
    session = db.session.get(TrainingSession, session_id)
    session.starts_at = utcnow().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    session.ends_at = session.starts_at + timedelta(hours=2)
    db.session.commit()


@pytest.fixture
def under_way(lesson):
    """The lesson, started half an hour ago: its check-in is open."""
    start_now(lesson["session"]["id"])
    return lesson
