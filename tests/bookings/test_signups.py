"""Sign-ups, waitlists, withdrawals and promotions through the API."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from coordinator.bookings import operations as bookings
from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db


def signup(client, session_id, headers, role="helper", **body):
    return client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role, **body}, headers=headers
    )


def staffing(client, session_id, role="helper"):
    rows = client.get(f"/api/v1/sessions/{session_id}/staffing").json
    return next(r for r in rows if r["role"] == role)


def event_types():
    return [e.type for e in db.session.scalars(sa.select(DomainEvent).order_by(DomainEvent.id))]


def test_sign_up_confirms_while_seats_last_then_waitlists_in_order(
    client, make_session, make_volunteer
):
    session = make_session(roles=[{"role": "helper", "count": 2, "required_skills": []}])
    results = [signup(client, session["id"], make_volunteer()[1]) for _ in range(4)]

    assert [r.status_code for r in results] == [201, 201, 201, 201]
    assert [(r.json["status"], r.json["position"]) for r in results] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert staffing(client, session["id"]) == {
        "role": "helper",
        "needed": 2,
        "confirmed": 2,
        "proposed": 0,
        "waitlisted": 2,
        "required_skills": [],
        "held": 0,
        "held_until": None,
        "free": 0,
    }
    assert event_types().count("signup.waitlisted") == 2


def test_withdrawal_promotes_the_head_of_the_waitlist_and_closes_the_gap(
    client, make_session, make_volunteer
):
    session = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    first, second, third = (signup(client, session["id"], make_volunteer()[1]) for _ in range(3))

    response = client.delete(f"/api/v1/signups/{first.json['id']}", headers=_headers_of(first))

    assert response.status_code == 200
    assert response.json["status"] == "withdrawn"
    promoted = client.get(
        f"/api/v1/assignments/{second.json['id']}", headers=_headers_of(second)
    ).json
    assert promoted["status"] == "confirmed" and promoted["position"] is None
    moved_up = client.get(
        f"/api/v1/assignments/{third.json['id']}", headers=_headers_of(third)
    ).json
    assert moved_up["status"] == "waitlisted" and moved_up["position"] == 1
    promoted_events = [
        e
        for e in db.session.scalars(
            sa.select(DomainEvent).where(DomainEvent.type == "waitlist.promoted")
        )
    ]
    assert [e.payload["assignment_id"] for e in promoted_events] == [second.json["id"]]


def _headers_of(response):
    return {"Authorization": response.request.headers["Authorization"]}


def test_duplicate_sign_up_is_409_with_a_clear_message(client, make_session, make_volunteer):
    session = make_session()
    _, headers = make_volunteer()
    assert signup(client, session["id"], headers).status_code == 201
    again = signup(client, session["id"], headers, role="lead")
    assert again.status_code == 409
    assert again.json["error"] == "duplicate"
    assert "Bạn đã đăng ký buổi này rồi" in again.json["message"]


def test_overlapping_sessions_cannot_both_be_booked(client, make_session, make_volunteer):
    first = make_session()
    start = first["starts_at"]
    overlapping = make_session(
        title="Buổi khác", starts_at=start, ends_at=first["ends_at"], ward="cat_linh"
    )
    _, headers = make_volunteer()
    assert signup(client, first["id"], headers).status_code == 201
    clash = signup(client, overlapping["id"], headers)
    assert clash.status_code == 409
    assert clash.json["error"] == "time_conflict"
    assert f"#{first['id']}" in clash.json["message"]


def test_travel_gap_applies_between_wards_that_are_not_neighbours(
    client, make_session, make_volunteer
):
    first = make_session(ward="kim_lien")
    ends = first["ends_at"]
    after = datetime.fromisoformat(ends) + timedelta(minutes=15)
    far = make_session(
        title="Xa",
        ward="lang_thuong",
        starts_at=after.isoformat(),
        ends_at=(after + timedelta(hours=1)).isoformat(),
    )
    near = make_session(
        title="Gần",
        ward="kim_lien",
        starts_at=after.isoformat(),
        ends_at=(after + timedelta(hours=1)).isoformat(),
    )
    _, headers = make_volunteer(max_sessions_per_week=5)
    assert signup(client, first["id"], headers).status_code == 201
    assert signup(client, far["id"], headers).json["error"] == "time_conflict"
    assert signup(client, near["id"], headers).status_code == 201


def test_weekly_limit_is_enforced(client, make_session, make_volunteer):
    _, headers = make_volunteer(max_sessions_per_week=1)
    first = make_session()
    later = datetime.fromisoformat(first["starts_at"]) + timedelta(hours=4)
    second = make_session(
        title="Tối", starts_at=later.isoformat(), ends_at=(later + timedelta(hours=1)).isoformat()
    )
    assert signup(client, first["id"], headers).status_code == 201
    refused = signup(client, second["id"], headers)
    assert refused.status_code == 409 and refused.json["error"] == "weekly_limit"


def test_required_skills_and_expert_leads(client, make_session, make_volunteer):
    session = make_session()  # lead needs smartphone_basics and an expert
    _, novice = make_volunteer(skills=["cyber_safety"])
    refused = signup(client, session["id"], novice, role="lead")
    assert refused.status_code == 422 and refused.json["error"] == "missing_skills"
    _, skilled = make_volunteer(skills=["smartphone_basics"], is_expert=False)
    assert signup(client, session["id"], skilled, role="lead").json["error"] == "not_expert"
    _, expert = make_volunteer(skills=["smartphone_basics"], is_expert=True)
    assert signup(client, session["id"], expert, role="lead").status_code == 201


def test_cancelled_and_past_sessions_refuse_sign_ups(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mưa bão"},
        headers=organizer_headers,
    )
    _, headers = make_volunteer()
    refused = signup(client, session["id"], headers)
    assert refused.status_code == 409 and refused.json["error"] == "session_closed"

    past = make_session(title="Sắp diễn ra")
    from coordinator.sessions.models import TrainingSession

    db.session.execute(
        sa.update(TrainingSession)
        .where(TrainingSession.id == past["id"])
        .values(starts_at=utcnow() - timedelta(hours=1), ends_at=utcnow() + timedelta(hours=1))
    )
    db.session.commit()
    assert signup(client, past["id"], headers).json["error"] == "session_closed"


def test_unknown_role_is_422_naming_the_roles(client, make_session, make_volunteer):
    session = make_session()
    response = signup(client, session["id"], make_volunteer()[1], role="juggler")
    assert response.status_code == 422
    assert "juggler" in response.json["messages"]["role"][0]


def test_late_withdrawal_is_allowed_but_flagged(app, client, make_session, make_volunteer):
    soon = utcnow() + timedelta(hours=3)
    session = make_session(
        starts_at=soon.isoformat(), ends_at=(soon + timedelta(hours=2)).isoformat()
    )
    _, headers = make_volunteer()
    booked = signup(client, session["id"], headers)
    response = client.delete(f"/api/v1/signups/{booked.json['id']}", headers=headers)
    assert response.status_code == 200 and response.json["late_withdrawal"] is True
    assert "signup.late_withdrawal" in event_types()


def test_another_volunteer_cannot_withdraw_or_see_my_sign_up(client, make_session, make_volunteer):
    session = make_session()
    _, mine = make_volunteer()
    _, theirs = make_volunteer()
    booked = signup(client, session["id"], mine)
    assert client.delete(f"/api/v1/signups/{booked.json['id']}", headers=theirs).status_code == 404
    assert client.get(f"/api/v1/assignments/{booked.json['id']}", headers=theirs).status_code == 404


def test_organizer_signs_up_a_volunteer_and_sees_the_audit_trail(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    volunteer_id, _ = make_volunteer()
    booked = signup(client, session["id"], organizer_headers, volunteer_id=volunteer_id)
    assert booked.status_code == 201 and booked.json["volunteer_id"] == volunteer_id
    client.delete(f"/api/v1/signups/{booked.json['id']}?reason=Ốm", headers=organizer_headers)
    audit = client.get(f"/api/v1/sessions/{session['id']}/audit", headers=organizer_headers).json
    assert [e["type"] for e in audit] == [
        "session.published",
        "signup.confirmed",
        "signup.withdrawn",
    ]
    assert audit[-1]["reason"] == "Ốm" and audit[-1]["actor_id"] is not None


def test_raising_a_role_count_promotes_from_the_waitlist(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    bookings = [signup(client, session["id"], make_volunteer()[1]) for _ in range(3)]
    response = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"roles": [{"role": "helper", "count": 2, "required_skills": []}]},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    assert staffing(client, session["id"])["confirmed"] == 2
    assert staffing(client, session["id"])["waitlisted"] == 1
    last = client.get(
        f"/api/v1/assignments/{bookings[2].json['id']}", headers=organizer_headers
    ).json
    assert last["position"] == 1


def test_withdraw_acts_on_the_booking_as_it_is_after_the_lock(client, make_session, make_volunteer):
    """A change committed between a request's first read and its lock (here: the same
    booking withdrawn elsewhere) must not be acted on from the stale copy."""
    import pytest

    from coordinator.bookings import operations
    from coordinator.bookings.models import Assignment
    from coordinator.errors import Conflict
    from coordinator.sessions.models import SessionRole

    session = make_session(roles=[{"role": "helper", "count": 2, "required_skills": []}])
    first = signup(client, session["id"], make_volunteer()[1]).json
    signup(client, session["id"], make_volunteer()[1])
    stale = db.session.get(Assignment, first["id"])
    db.session.commit()  # the copy stays in memory, saying "confirmed"
    with db.engine.begin() as elsewhere:
        elsewhere.execute(
            sa.update(Assignment).where(Assignment.id == first["id"]).values(status="withdrawn")
        )
        elsewhere.execute(
            sa.update(SessionRole).where(SessionRole.id == stale.role_id).values(taken=1)
        )

    with pytest.raises(Conflict):
        operations.withdraw(stale)
    db.session.rollback()

    role = db.session.get(SessionRole, stale.role_id, populate_existing=True)
    assert role.taken == 1  # the other booking still holds its seat


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks: PostgreSQL's",
)
def test_a_promotion_keeps_no_lock_on_the_volunteers_it_skips(client, make_session, make_volunteer):
    """A withdrawal fills its seat from the waitlist, skipping someone booked meanwhile
    in a clashing session. The skipped volunteer is unlocked again at once: two
    promotions, each holding the volunteer it skipped and reaching for the one the other
    skipped, deadlocked under load (a 503 to the person withdrawing)."""
    session = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    clashing = make_session(
        ward="cat_linh", roles=[{"role": "helper", "count": 1, "required_skills": []}]
    )
    holder, skipped, next_in_line = (
        signup(client, session["id"], make_volunteer()[1]) for _ in range(3)
    )
    assert [r.json["status"] for r in (holder, skipped, next_in_line)] == [
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    elsewhere = signup(client, clashing["id"], _headers_of(skipped))
    assert elsewhere.status_code == 201 and elsewhere.json["status"] == "confirmed"
    db.session.commit()

    bookings.withdraw(db.session.get_one(Assignment, holder.json["id"]))  # not committed
    promoted = db.session.get_one(Assignment, next_in_line.json["id"])
    assert promoted.status == "confirmed"
    assert db.session.get_one(Assignment, skipped.json["id"]).waitlist_position == 1
    lock = sa.text("SELECT id FROM volunteers WHERE id = :id FOR UPDATE NOWAIT")
    with db.engine.connect() as other:
        free = other.execute(lock, {"id": skipped.json["volunteer_id"]}).scalar()
        assert free == skipped.json["volunteer_id"]  # skipped: not held by the promotion
        other.rollback()
        with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            other.execute(lock, {"id": promoted.volunteer_id})  # promoted: held till commit
    db.session.rollback()
