"""Participants' registrations: the same capacity and waitlist rules, for participants."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import Participant, ParticipantPrivate

SECRET = "MARKER-needs-7f3a"


def make_participant(n: int) -> int:
    participant = Participant(full_name=f"Học viên {n}", ward="kim_lien", target_group="residents")
    participant.private = ParticipantPrivate(accessibility_needs=["sign_language"], contact=SECRET)
    db.session.add(participant)
    db.session.commit()
    return participant.id


def register(client, session_id, participant_id, headers):
    return client.post(
        f"/api/v1/sessions/{session_id}/registrations",
        json={"participant_id": participant_id},
        headers=headers,
    )


def test_registrations_fill_capacity_then_waitlist_and_promote(
    client, make_session, organizer_headers
):
    session = make_session(capacity=2)
    people = [make_participant(n) for n in range(4)]
    results = [register(client, session["id"], p, organizer_headers) for p in people]
    assert [(r.status_code, r.json["status"], r.json["position"]) for r in results] == [
        (201, "registered", None),
        (201, "registered", None),
        (201, "waitlisted", 1),
        (201, "waitlisted", 2),
    ]
    assert client.get(f"/api/v1/sessions/{session['id']}").json["seats_left"] == 0

    cancelled = client.delete(
        f"/api/v1/registrations/{results[0].json['id']}", headers=organizer_headers
    )
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    from coordinator.bookings.models import Registration

    db.session.expire_all()
    third = db.session.get(Registration, results[2].json["id"])
    fourth = db.session.get(Registration, results[3].json["id"])
    assert (third.status, third.waitlist_position) == ("registered", None)
    assert (fourth.status, fourth.waitlist_position) == ("waitlisted", 1)


def test_duplicate_registration_is_409(client, make_session, organizer_headers):
    session = make_session()
    person = make_participant(1)
    assert register(client, session["id"], person, organizer_headers).status_code == 201
    again = register(client, session["id"], person, organizer_headers)
    assert again.status_code == 409 and again.json["error"] == "duplicate"


def test_registration_events_carry_no_personal_data(client, make_session, organizer_headers):
    session = make_session()
    register(client, session["id"], make_participant(1), organizer_headers)
    payloads = [str(e.payload) for e in db.session.scalars(sa.select(DomainEvent))]
    assert payloads and not any(
        SECRET in p or "Học viên" in p or "sign_language" in p for p in payloads
    )


def test_volunteers_cannot_register_participants(client, make_session, make_volunteer):
    session = make_session()
    _, headers = make_volunteer()
    assert register(client, session["id"], make_participant(1), headers).status_code == 403


def test_a_participants_login_registers_only_that_participant(
    client, make_session, organizer_headers, make_user, auth_headers, make_volunteer
):
    session = make_session()
    ids = []
    for name in ("Vũ Thị Thu", "Ngô Văn Nam"):
        created = client.post(
            "/api/v1/participants",
            json={"full_name": name, "ward": "kim_lien", "target_group": "residents"},
            headers=organizer_headers,
        )
        ids.append(created.json["id"])
    login = make_user("participant")
    db.session.get(Participant, ids[0]).user_id = login.id
    db.session.commit()
    headers = auth_headers(login)
    url = f"/api/v1/sessions/{session['id']}/registrations"

    own = client.post(url, json={"participant_id": ids[0]}, headers=headers)
    assert own.status_code == 201 and own.json["status"] == "registered"
    other = client.post(url, json={"participant_id": ids[1]}, headers=headers)
    assert other.status_code == 422
    assert client.post(url, json={"participant_id": 999999}, headers=headers).json == other.json
    _, volunteer_headers = make_volunteer()
    assert (
        client.post(url, json={"participant_id": ids[1]}, headers=volunteer_headers).status_code
        == 403
    )


def _person(client, headers, full_name, **contacts) -> int:
    created = client.post(
        "/api/v1/participants",
        json={"full_name": full_name, "ward": "kim_lien", "target_group": "residents", **contacts},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    return created.json["id"]


def test_the_same_person_registered_twice_is_a_409_pointing_to_the_first(
    client, make_session, organizer_headers
):
    session = make_session()
    first = _person(client, organizer_headers, "Nguyễn Thị Hoa", contact="0912 345 678")
    kept = register(client, session["id"], first, organizer_headers)
    assert kept.status_code == 201
    # The same name typed decomposed, in other case and spacing; the phone written otherwise.
    again = _person(
        client, organizer_headers, "  nguye\u0302\u0303n  THỊ hoa", contact="+84912345678"
    )
    refused = register(client, session["id"], again, organizer_headers)
    assert refused.status_code == 409 and refused.json["error"] == "duplicate_registration"
    assert refused.json["registration_id"] == kept.json["id"]
    assert refused.json["participant_id"] == first
    assert f"#{kept.json['id']}" in refused.json["message"]
    assert "0912" not in refused.get_data(as_text=True)  # no contact in the answer


def test_a_guardian_contact_in_common_is_the_same_person(client, make_session, organizer_headers):
    session = make_session()
    child = _person(client, organizer_headers, "Lê Minh An", guardian_contact="me@example.vn")
    assert register(client, session["id"], child, organizer_headers).status_code == 201
    twin = _person(client, organizer_headers, "Lê Minh An", contact="ME@example.vn")
    assert register(client, session["id"], twin, organizer_headers).status_code == 409


def test_namesakes_with_other_contacts_or_none_are_different_people(
    client, make_session, organizer_headers
):
    session = make_session()
    one = _person(client, organizer_headers, "Trần Văn Nam", contact="0912 000 001")
    other = _person(client, organizer_headers, "Trần Văn Nam", contact="0912 000 002")
    unknown = _person(client, organizer_headers, "Trần Văn Nam")
    for person in (one, other, unknown):
        assert register(client, session["id"], person, organizer_headers).status_code == 201
