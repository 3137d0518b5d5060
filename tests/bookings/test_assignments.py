"""Organizers' direct assignments (a volunteer or a whole squad) and volunteers' answers."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db


def assign(client, session_id, headers, **body):
    return client.post(f"/api/v1/sessions/{session_id}/assignments", json=body, headers=headers)


def make_squad(client, organizer_headers, leader_id, member_ids, name="Đội Kim Liên"):
    response = client.post(
        "/api/v1/squads",
        json={
            "name": name,
            "leader_id": leader_id,
            "member_ids": member_ids,
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def booked_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Assignment.id)))


def test_organizer_assigns_a_volunteer_directly(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    volunteer_id, _ = make_volunteer()
    response = assign(
        client, session["id"], organizer_headers, role="helper", volunteer_id=volunteer_id
    )
    assert response.status_code == 201
    (booking,) = response.json["assignments"]
    assert (booking["status"], booking["source"], booking["volunteer_id"]) == (
        "confirmed",
        "organizer",
        volunteer_id,
    )


def test_direct_assignment_into_a_full_role_is_409(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    first, _ = make_volunteer()
    second, _ = make_volunteer()
    assert (
        assign(
            client, session["id"], organizer_headers, role="helper", volunteer_id=first
        ).status_code
        == 201
    )
    full = assign(client, session["id"], organizer_headers, role="helper", volunteer_id=second)
    assert full.status_code == 409 and full.json["error"] == "role_full"


def test_volunteers_cannot_assign(client, make_session, make_volunteer):
    session = make_session()
    volunteer_id, headers = make_volunteer()
    response = assign(client, session["id"], headers, role="helper", volunteer_id=volunteer_id)
    assert response.status_code == 403


def test_squad_leader_takes_the_lead_and_members_fill_helper_seats(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(
        roles=[
            {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"]},
            {"role": "helper", "count": 2, "required_skills": []},
        ]
    )
    leader, _ = make_volunteer(is_expert=True)
    members = [make_volunteer()[0] for _ in range(3)]
    squad_id = make_squad(client, organizer_headers, leader, members)

    response = assign(client, session["id"], organizer_headers, squad_id=squad_id)

    assert response.status_code == 201, response.json
    placed = {(a["volunteer_id"], a["role"]) for a in response.json["assignments"]}
    assert placed == {(leader, "lead"), (members[0], "helper"), (members[1], "helper")}
    assert all(a["squad_id"] == squad_id for a in response.json["assignments"])
    assert response.json["skipped"] == [{"volunteer_id": members[2], "reason": "role_full"}]
    staffing = {
        r["role"]: r["confirmed"]
        for r in client.get(f"/api/v1/sessions/{session['id']}/staffing").json
    }
    assert staffing == {"lead": 1, "helper": 2}


def test_squad_assignment_is_all_or_nothing_and_names_the_conflict(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(roles=[{"role": "helper", "count": 5, "required_skills": []}])
    clash = make_session(
        title="Buổi trùng giờ",
        ward="cat_linh",
        starts_at=session["starts_at"],
        ends_at=session["ends_at"],
    )
    leader, _ = make_volunteer()
    busy, _ = make_volunteer(full_name="Trần Văn Bận")
    free, _ = make_volunteer()
    assert (
        assign(client, clash["id"], organizer_headers, role="helper", volunteer_id=busy).status_code
        == 201
    )
    squad_id = make_squad(client, organizer_headers, leader, [busy, free])
    before = booked_count()

    response = assign(client, session["id"], organizer_headers, squad_id=squad_id)

    assert response.status_code == 409
    assert response.json["error"] == "squad_conflict"
    assert "Trần Văn Bận" in response.json["message"]
    assert f"#{clash['id']}" in response.json["messages"]["member_ids"][str(busy)][0]
    assert booked_count() == before  # nothing written for anyone


def test_squad_assignment_requires_exactly_one_target(client, make_session, organizer_headers):
    session = make_session()
    neither = assign(client, session["id"], organizer_headers, role="helper")
    assert neither.status_code == 422 and "volunteer_id" in neither.json["messages"]
    both = assign(
        client, session["id"], organizer_headers, role="helper", volunteer_id=1, squad_id=1
    )
    assert both.status_code == 422


def test_declining_an_assignment_frees_the_seat_for_the_waitlist(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    assigned_id, assigned_headers = make_volunteer()
    booking = assign(
        client, session["id"], organizer_headers, role="helper", volunteer_id=assigned_id
    ).json["assignments"][0]
    _, waiting_headers = make_volunteer()
    waiting = client.post(
        f"/api/v1/sessions/{session['id']}/signups",
        json={"role": "helper"},
        headers=waiting_headers,
    ).json
    assert waiting["status"] == "waitlisted"

    declined = client.post(
        f"/api/v1/assignments/{booking['id']}/decline",
        json={"reason": "Bận việc gia đình"},
        headers=assigned_headers,
    )

    assert declined.status_code == 200 and declined.json["status"] == "declined"
    promoted = client.get(f"/api/v1/assignments/{waiting['id']}", headers=waiting_headers).json
    assert promoted["status"] == "confirmed"


def test_a_volunteer_cannot_answer_someone_elses_assignment(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    assigned_id, _ = make_volunteer()
    _, other_headers = make_volunteer()
    booking = assign(
        client, session["id"], organizer_headers, role="helper", volunteer_id=assigned_id
    ).json["assignments"][0]
    assert (
        client.post(
            f"/api/v1/assignments/{booking['id']}/decline", headers=other_headers
        ).status_code
        == 404
    )


def test_accept_turns_a_proposal_into_a_confirmed_booking(
    app, client, make_session, make_volunteer
):
    from coordinator.bookings.counters import lock_roles, take_seat
    from coordinator.sessions.models import SessionRole

    session = make_session()
    volunteer_id, headers = make_volunteer()
    role = db.session.scalar(
        sa.select(SessionRole).where(
            SessionRole.session_id == session["id"], SessionRole.role == "helper"
        )
    )
    lock_roles([role.id])
    assert take_seat(role)  # a matcher's proposal holds its seat
    proposal = Assignment(
        session_id=session["id"],
        role_id=role.id,
        volunteer_id=volunteer_id,
        source="matcher",
        status="proposed",
        reasons=["cùng phường / same ward"],
    )
    db.session.add(proposal)
    db.session.commit()

    accepted = client.post(f"/api/v1/assignments/{proposal.id}/accept", headers=headers)

    assert accepted.status_code == 200 and accepted.json["status"] == "confirmed"
    again = client.post(f"/api/v1/assignments/{proposal.id}/accept", headers=headers)
    assert again.status_code == 409 and again.json["error"] == "not_proposed"
    assert client.post(f"/api/v1/signups/{proposal.id}", headers=headers).status_code == 405


def test_self_sign_ups_cannot_be_declined_only_withdrawn(client, make_session, make_volunteer):
    session = make_session()
    _, headers = make_volunteer()
    booking = client.post(
        f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
    ).json
    response = client.post(f"/api/v1/assignments/{booking['id']}/decline", headers=headers)
    assert response.status_code == 409
