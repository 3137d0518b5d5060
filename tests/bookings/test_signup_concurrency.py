"""Capacity under real concurrency: many threads, each its own connection, at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.people.auth import issue_token
from coordinator.people.operations import create_volunteer
from coordinator.sessions.models import SessionRole
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow  # many threads at once

CLIENTS = 50
SEATS = 5


def _volunteers_with_tokens(count: int) -> list[str]:
    tokens = []
    for n in range(count):
        create_volunteer(
            {
                "full_name": f"Tình nguyện viên {n}",
                "email": f"tnv{n}@example.vn",
                "home_ward": "kim_lien",
                "skills": [],
                "max_sessions_per_week": 3,
            },
            password=PASSWORD,
        )
        tokens.append(issue_token(f"tnv{n}@example.vn", PASSWORD)[0])
    db.session.commit()
    return tokens


def test_fifty_simultaneous_sign_ups_for_five_seats(app, make_session):
    session = make_session(roles=[{"role": "helper", "count": SEATS, "required_skills": []}])
    tokens = _volunteers_with_tokens(CLIENTS)
    db.session.commit()  # the test holds no transaction while the threads run
    start = threading.Barrier(CLIENTS)

    def sign_up(token: str):
        client = app.test_client()
        start.wait()
        response = client.post(
            f"/api/v1/sessions/{session['id']}/signups",
            json={"role": "helper"},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(sign_up, tokens))

    assert sorted({status for status, _ in results}) == [201], results
    statuses = [body["status"] for _, body in results]
    assert statuses.count("confirmed") == SEATS
    assert statuses.count("waitlisted") == CLIENTS - SEATS
    positions = sorted(body["position"] for _, body in results if body["status"] == "waitlisted")
    assert positions == list(range(1, CLIENTS - SEATS + 1))

    db.session.expire_all()
    role = db.session.scalar(sa.select(SessionRole).where(SessionRole.session_id == session["id"]))
    assert role.taken == SEATS
    waitlist = db.session.scalars(
        sa.select(Assignment)
        .where(Assignment.role_id == role.id, Assignment.status == "waitlisted")
        .order_by(Assignment.created_at, Assignment.id)
    ).all()
    assert [a.waitlist_position for a in waitlist] == positions  # in order of sign-up


def test_one_volunteer_racing_into_two_overlapping_sessions_gets_one(app, make_session):
    first = make_session(title="A")
    second = make_session(
        title="B", ward="cat_linh", starts_at=first["starts_at"], ends_at=first["ends_at"]
    )
    (token,) = _volunteers_with_tokens(1)
    start = threading.Barrier(2)

    def sign_up(session_id: int):
        client = app.test_client()
        start.wait()
        return client.post(
            f"/api/v1/sessions/{session_id}/signups",
            json={"role": "helper"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(sign_up, [first["id"], second["id"]]))
    assert codes == [201, 409]
