"""The life of a booking: a proposal holds its seat until its answer deadline and then
expires (on a real RQ worker, with the test's clock), cancelling a session or the rest of
its series ends everything booked in it, and moves that do not apply are 409s."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import LIVE_ASSIGNMENT, LIVE_REGISTRATION, Assignment, Registration
from coordinator.bookings.models import AssignmentStatus as S
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import SessionRole, TrainingSession
from jobs.bookings import expire_proposal
from tests.notifications.notification_helpers import body_text, notifications, work

ONE_HELPER = [{"role": "helper", "count": 1, "required_skills": []}]


def propose(client, session_id, volunteer_id, headers, role="helper"):
    return client.post(
        f"/api/v1/sessions/{session_id}/assignments",
        json={"role": role, "volunteer_id": volunteer_id, "propose": True},
        headers=headers,
    )


def sign_up(client, session_id, headers, role="helper"):
    return client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )


def cancel(client, session_id, headers, **body):
    return client.post(
        f"/api/v1/sessions/{session_id}/cancel", json={"reason": "Mưa bão", **body}, headers=headers
    )


def events(event_type: str) -> list[DomainEvent]:
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(DomainEvent).where(DomainEvent.type == event_type)))
    db.session.commit()
    return rows


def status_of(assignment_id: int) -> str:
    db.session.expire_all()
    status = db.session.get(Assignment, assignment_id).status
    db.session.commit()
    return status


def staffing(client, session_id):
    return {r["role"]: r for r in client.get(f"/api/v1/sessions/{session_id}/staffing").json}


@pytest.fixture
def held_session(client, make_session, make_volunteer, organizer_headers, clock):
    """A session two days away whose only helper seat an organizer's proposal holds."""
    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    response = propose(client, session["id"], volunteer_id, organizer_headers)
    assert response.status_code == 201, response.json
    (proposal,) = response.json["assignments"]
    return {"session": session, "proposal": proposal, "volunteer_headers": headers}


def test_a_proposal_holds_its_seat_until_its_answer_deadline(client, held_session, clock):
    proposal = held_session["proposal"]
    assert proposal["status"] == "proposed"
    # The session is a week away: the default 48 hours apply.
    expected = clock.now + timedelta(hours=48)
    row = db.session.get(Assignment, proposal["id"])
    assert row.answer_by == expected
    helper = staffing(client, held_session["session"]["id"])["helper"]
    assert (helper["held"], helper["free"], helper["confirmed"]) == (1, 0, 0)
    assert helper["held_until"] is not None


def test_the_deadline_is_never_later_than_a_day_before_the_start(
    client, make_session, make_volunteer, organizer_headers, session_payload, clock
):
    starts = clock.now + timedelta(hours=36)
    session = make_session(
        roles=ONE_HELPER,
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=2)).isoformat(),
    )
    volunteer_id, _ = make_volunteer()
    (proposal,) = propose(client, session["id"], volunteer_id, organizer_headers).json[
        "assignments"
    ]
    assert db.session.get(Assignment, proposal["id"]).answer_by == starts - timedelta(hours=24)


def test_at_the_deadline_the_proposal_expires_once_and_the_waitlist_moves_up(
    client, held_session, make_volunteer, redis_client, smtp, clock
):
    session_id, proposal_id = held_session["session"]["id"], held_session["proposal"]["id"]
    waiting_id, waiting_headers = make_volunteer()
    waiting = sign_up(client, session_id, waiting_headers).json
    assert (waiting["status"], waiting["position"]) == ("waitlisted", 1)

    work(redis_client)  # before the deadline nothing expires
    assert status_of(proposal_id) == "proposed"

    clock.advance(hours=48, seconds=1)
    work(redis_client)

    assert status_of(proposal_id) == "expired"
    assert status_of(waiting["id"]) == "confirmed"
    assert len(events("assignment.expired")) == 1
    assert [e.payload["assignment_id"] for e in events("waitlist.promoted")] == [waiting["id"]]
    # Running the job again (as a retry or a second worker would) changes nothing.
    assert expire_proposal(proposal_id) == "already expired"
    work(redis_client)
    assert len(events("assignment.expired")) == 1
    role = db.session.scalar(sa.select(SessionRole).where(SessionRole.session_id == session_id))
    assert role.taken == 1
    db.session.commit()
    # The volunteer is told; the organizer's digest of the day names the expiry.
    email = db.session.get(Volunteer, held_session["proposal"]["volunteer_id"]).email
    db.session.commit()
    [told] = [m for m in smtp.to(email) if "hết hạn" in m["Subject"]]
    assert "nhường cho người khác" in body_text(told)
    assert notifications(kind="organizer_digest")


def test_an_expiry_without_a_waitlist_asks_for_a_repair(
    client, held_session, redis_client, smtp, clock
):
    proposal_id = held_session["proposal"]["id"]
    clock.advance(hours=49)
    work(redis_client)
    assert status_of(proposal_id) == "expired"
    repairs = events("matching.repair_requested")
    assert [e.payload["assignment_id"] for e in repairs] == [proposal_id]
    helper = staffing(client, held_session["session"]["id"])["helper"]
    assert (helper["held"], helper["free"]) == (0, 1)


def test_an_answer_after_the_deadline_is_refused_even_before_the_job_ran(
    client, held_session, clock
):
    clock.advance(hours=48, seconds=1)
    response = client.post(
        f"/api/v1/assignments/{held_session['proposal']['id']}/accept",
        headers=held_session["volunteer_headers"],
    )
    assert response.status_code == 409 and response.json["error"] == "proposal_expired"


def test_the_job_does_not_expire_an_answered_proposal(client, held_session, clock):
    proposal_id = held_session["proposal"]["id"]
    accepted = client.post(
        f"/api/v1/assignments/{proposal_id}/accept", headers=held_session["volunteer_headers"]
    )
    assert accepted.status_code == 200
    clock.advance(hours=49)
    assert expire_proposal(proposal_id) == "already confirmed"
    assert status_of(proposal_id) == "confirmed"


# Cancellation


def test_cancelling_a_session_leaves_no_live_booking_or_registration(
    client, make_session, make_volunteer, organizer_headers, redis_client, smtp, clock
):
    session = make_session(roles=[{"role": "helper", "count": 2, "required_skills": []}])
    sid = session["id"]
    confirmed_id, confirmed_headers = make_volunteer()
    proposed_id, proposed_headers = make_volunteer()
    waiting_id, waiting_headers = make_volunteer()
    confirmed = sign_up(client, sid, confirmed_headers).json
    (proposal,) = propose(client, sid, proposed_id, organizer_headers).json["assignments"]
    waiting = sign_up(client, sid, waiting_headers).json
    assert waiting["status"] == "waitlisted"
    participant = client.post(
        "/api/v1/participants",
        json={"full_name": "Vũ Thị Thu", "ward": "kim_lien", "target_group": "residents"},
        headers=organizer_headers,
    ).json
    registered = client.post(
        f"/api/v1/sessions/{sid}/registrations",
        json={"participant_id": participant["id"]},
        headers=organizer_headers,
    )
    assert registered.status_code == 201
    work(redis_client)  # the proposal's mail, with its answer links
    [mail] = [m for m in smtp.messages if "Mời bạn" in m["Subject"]]
    accept_link = re.search(r"^Xác nhận: (\S+)$", body_text(mail), re.M)[1]
    accept_link = accept_link.removeprefix("http://localhost:5000")

    response = cancel(client, sid, organizer_headers)

    assert response.status_code == 200 and response.json["status"] == "cancelled"
    db.session.expire_all()
    bookings = db.session.scalars(sa.select(Assignment).where(Assignment.session_id == sid)).all()
    assert {b.id: b.status for b in bookings} == {
        confirmed["id"]: "cancelled",
        proposal["id"]: "cancelled",
        waiting["id"]: "cancelled",
    }
    assert all(b.waitlist_position is None and b.answer_by is None for b in bookings)
    registrations = db.session.scalars(
        sa.select(Registration).where(Registration.session_id == sid)
    ).all()
    assert [r.status for r in registrations] == ["cancelled"]
    row = db.session.get(TrainingSession, sid)
    assert row.registered_count == 0 and [r.taken for r in row.roles] == [0]
    db.session.commit()
    cancelled = events("assignment.cancelled")
    assert len(cancelled) == 3 and {e.reason for e in cancelled} == {"Mưa bão"}
    helper = staffing(client, sid)["helper"]
    assert (helper["confirmed"], helper["held"], helper["waitlisted"]) == (0, 0, 0)

    # The proposal's link now says the session is cancelled, with no Accept button.
    page = client.get(accept_link)
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    main = html[html.index("<main") : html.index("</main>")]
    assert "Buổi học đã hủy" in main and "Mưa bão" in main and "<button" not in main
    assert client.post(accept_link).status_code == 410
    # Everyone who was booked, asked or waiting, and the participant, is told.
    work(redis_client)
    told = notifications(kind="session_cancelled")
    assert {(n.recipient_kind, n.recipient_id) for n in told} == {
        ("volunteer", confirmed_id),
        ("volunteer", proposed_id),
        ("volunteer", waiting_id),
        ("participant", participant["id"]),
    }


def test_a_cancelled_session_cannot_be_uncancelled_or_booked(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    volunteer_id, headers = make_volunteer()
    assert cancel(client, session["id"], organizer_headers).status_code == 200

    again = cancel(client, session["id"], organizer_headers)
    changed = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"description": "Mở lại"},
        headers=organizer_headers,
    )
    booked = sign_up(client, session["id"], headers)

    assert again.status_code == 409
    assert changed.status_code == 409
    assert booked.status_code == 409 and booked.json["error"] == "session_closed"
    assert propose(client, session["id"], volunteer_id, organizer_headers).status_code == 409


def test_cancelling_one_occurrence_or_the_rest_of_a_series(
    client, make_session, make_volunteer, organizer_headers
):
    body = make_session(repeat={"weekly": 4})
    first, second, third, fourth = body["series_session_ids"]
    _, headers = make_volunteer(max_sessions_per_week=7)
    booking = sign_up(client, fourth, headers).json

    assert cancel(client, second, organizer_headers).status_code == 200  # default: occurrence
    assert cancel(client, third, organizer_headers, scope="rest_of_series").status_code == 200

    db.session.expire_all()
    statuses = [db.session.get(TrainingSession, i).status for i in (first, second, third, fourth)]
    assert statuses == ["published", "cancelled", "cancelled", "cancelled"]
    assert db.session.get(TrainingSession, fourth).cancel_reason == "Mưa bão"
    assert status_of(booking["id"]) == "cancelled"
    assert cancel(client, first, organizer_headers, scope="whole_year").status_code == 422


def test_cancelling_the_rest_of_a_series_from_a_single_session_cancels_it_alone(
    client, make_session, organizer_headers
):
    one, other = make_session(), make_session()
    assert cancel(client, one["id"], organizer_headers, scope="rest_of_series").status_code == 200
    db.session.expire_all()
    assert db.session.get(TrainingSession, other["id"]).status == "published"


# Moves that do not apply


def test_illegal_moves_are_409s_naming_the_state(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(roles=ONE_HELPER)
    _, first_headers = make_volunteer()
    _, second_headers = make_volunteer()
    confirmed = sign_up(client, session["id"], first_headers).json
    waiting = sign_up(client, session["id"], second_headers).json

    accept_waitlisted = client.post(
        f"/api/v1/assignments/{waiting['id']}/accept", headers=second_headers
    )
    assert accept_waitlisted.status_code == 409
    assert accept_waitlisted.json["error"] == "not_proposed"
    assert "waitlisted" in accept_waitlisted.json["message"]

    assert (
        client.delete(f"/api/v1/signups/{confirmed['id']}", headers=first_headers).status_code
        == 200
    )
    withdraw_again = client.delete(f"/api/v1/signups/{confirmed['id']}", headers=first_headers)
    assert withdraw_again.status_code == 409 and withdraw_again.json["error"] == "not_active"
    assert "withdrawn" in withdraw_again.json["message"]


def test_live_and_final_states_partition_every_status():
    from coordinator.bookings.operations import TRANSITIONS

    assert set(TRANSITIONS) == set(LIVE_ASSIGNMENT)
    finals = set(S) - set(LIVE_ASSIGNMENT)
    assert finals == {S.DECLINED, S.WITHDRAWN, S.CANCELLED, S.EXPIRED, S.COVERED}
    assert all(target in set(S) for targets in TRANSITIONS.values() for target in targets)
    assert set(LIVE_REGISTRATION) == {"registered", "waitlisted"}
