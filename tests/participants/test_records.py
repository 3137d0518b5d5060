"""Participants: registering (themselves with consent, or by an organizer), the lead's
attendance and assessments, their data exported and erased, and who may see what."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from coordinator.people.models import Participant, ParticipantPrivate, User
from coordinator.progress.models import Assessment, ErasedParticipantCount
from tests.api_helpers import assert_error
from tests.page_helpers import csrf_token, log_in, submit, text
from tests.participants.conftest import CONTACT_MARKER, GUARDIAN_MARKER, NEEDS_MARKER


def test_a_learner_registers_themselves_with_consent(client, make_session, wards):
    session = make_session(capacity=1)
    page = f"/sessions/{session['id']}/register"
    refused = submit(
        client, page, {"full_name": "Trần Văn Tú", "ward": "kim_lien", "target_group": "residents"}
    )
    assert refused.status_code == 422 and 'value="Trần Văn Tú"' in text(refused)
    assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == 0

    done = submit(
        client,
        page,
        {
            "full_name": "Trần Văn Tú",
            "ward": "kim_lien",
            "target_group": "residents",
            "consent": "y",
            "accessibility_needs": ["low_vision"],
        },
    )
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    assert "/calendar/p/" in text(done) and "webcal://" in text(done)
    second = submit(
        client,
        page,
        {"full_name": "Lê Thị Na", "ward": "kim_lien", "target_group": "students", "consent": "y"},
    )
    assert "danh sách chờ" in text(second)  # the one place is taken
    db.session.rollback()
    statuses = sorted(r.status for r in db.session.scalars(sa.select(Registration)))
    assert statuses == ["registered", "waitlisted"]


def test_the_lead_records_attendance_and_levels(client, under_way):
    lesson = under_way
    url = f"/api/v1/sessions/{lesson['session']['id']}/attendance"
    roster = client.get(url, headers=lesson["lead"])
    assert roster.status_code == 200
    assert roster.json == [
        {
            "registration_id": lesson["registration"],
            "participant_id": lesson["participant"],
            "first_name": "Hoa",
            "accessibility_needs": [NEEDS_MARKER],
            "attended": None,
            "levels": {},
            "reached_basic": False,
        }
    ]
    entry = {
        "registration_id": lesson["registration"],
        "attended": True,
        "levels": {"1": 3, "2": 2},
        "reached_basic": True,
    }
    saved = client.put(url, json={"entries": [entry]}, headers=lesson["lead"])
    assert saved.status_code == 200, saved.json
    assert saved.json[0]["levels"] == {"1": 3, "2": 2} and saved.json[0]["reached_basic"]
    again = client.put(
        url, json={"entries": [{**entry, "levels": {"1": 4}}]}, headers=lesson["lead"]
    )
    assert again.json[0]["levels"] == {"1": 4}
    stored = db.session.scalars(sa.select(Assessment)).all()
    assert [(a.competence_code, a.level, a.reached_basic) for a in stored] == [("1", 4, True)]
    assert db.session.get(Registration, lesson["registration"]).attended is True


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"registration_id": 999999, "attended": True}, "entries.0"),
        ({"attended": True, "levels": {"9.9": 2}}, "entries.0"),
        ({"attended": True, "levels": {}, "reached_basic": True}, "entries.0"),
        ({"attended": False, "levels": {"1": 2}}, "entries.0"),
        ({"attended": True, "levels": {"1": 12}}, "entries"),
    ],
)
def test_bad_attendance_changes_nothing(client, under_way, entry, field):
    lesson = under_way
    url = f"/api/v1/sessions/{lesson['session']['id']}/attendance"
    entry = {"registration_id": lesson["registration"], **entry}
    response = client.put(url, json={"entries": [entry]}, headers=lesson["lead"])
    assert_error(response, 422, field)
    assert db.session.scalar(sa.select(sa.func.count(Assessment.id))) == 0


def test_the_check_in_page_works_on_a_phone_with_a_qr_code(client, under_way, make_user):
    lesson = under_way
    lead = db.session.scalar(sa.select(User).where(User.role == "volunteer").order_by(User.id))
    log_in(client, lead.email)
    page = client.get(f"/checkin/{lesson['session']['id']}")
    assert page.status_code == 200
    html = text(page)
    # Needs in words, not codes; the given name and the family initial, not the full name.
    assert "<svg" in html and "Hoa N." in html and "Trình đọc màn hình" in html
    assert NEEDS_MARKER not in html
    assert CONTACT_MARKER not in html and "Nguyễn Thị Hoa" not in html
    token = csrf_token(client, f"/checkin/{lesson['session']['id']}")
    reg = lesson["registration"]
    saved = client.post(
        f"/checkin/{lesson['session']['id']}",
        data={
            "csrf_token": token,
            f"attended-{reg}": "y",
            f"level-{reg}-1": "2",
            f"reached-{reg}": "y",
        },
    )
    assert saved.status_code == 302
    db.session.rollback()
    assert [(a.level, a.reached_basic) for a in db.session.scalars(sa.select(Assessment))] == [
        (2, True)
    ]


def test_export_and_erasure_keep_only_anonymous_counts(app, client, lesson, organizer_headers):
    # Check-in opens a fortnight ahead here: the registration must stay a future one,
    # which erasure cancels.
    app.config["CHECKIN_OPENS_HOURS"] = 24 * 14
    url = f"/api/v1/sessions/{lesson['session']['id']}/attendance"
    client.put(
        url,
        json={
            "entries": [
                {
                    "registration_id": lesson["registration"],
                    "attended": True,
                    "levels": {"1": 3},
                    "reached_basic": True,
                }
            ]
        },
        headers=lesson["lead"],
    )
    exported = client.get(
        f"/api/v1/participants/{lesson['participant']}/export", headers=organizer_headers
    )
    assert exported.status_code == 200
    data = exported.get_json()
    assert data["contact"] == CONTACT_MARKER and data["accessibility_needs"] == [NEEDS_MARKER]
    assert data["registrations"][0]["attended"] is True
    assert data["assessments"][0]["level"] == 3

    erased = client.delete(
        f"/api/v1/participants/{lesson['participant']}", headers=organizer_headers
    )
    assert erased.status_code == 204
    db.session.rollback()
    participant = db.session.get(Participant, lesson["participant"])
    assert participant.full_name is None and participant.erased_at is not None
    assert db.session.scalar(sa.select(sa.func.count(ParticipantPrivate.participant_id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Assessment.id))) == 0
    counts = db.session.scalar(sa.select(ErasedParticipantCount))
    assert (counts.ward, counts.target_group, counts.enrolled, counts.reached) == (
        "kim_lien",
        "residents",
        1,
        1,
    )
    assert db.session.get(Registration, lesson["registration"]).status == "cancelled"
    assert (
        client.get(
            f"/api/v1/participants/{lesson['participant']}/export", headers=organizer_headers
        ).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v1/participants/{lesson['participant']}", headers=organizer_headers
        ).status_code
        == 404
    )


def test_erasure_from_the_organizer_page_needs_confirmation(client, lesson, make_user):
    organizer = make_user("organizer")
    log_in(client, organizer.email)
    record = f"/organize/participants/{lesson['participant']}"
    assert CONTACT_MARKER in text(client.get(record))
    download = client.get(record + "/export.json")
    assert json.loads(download.get_data())["guardian_contact"] == GUARDIAN_MARKER
    submit(client, record + "/erase", {}, form_page=record)
    db.session.rollback()
    assert db.session.get(Participant, lesson["participant"]).erased_at is None
    submit(client, record + "/erase", {"confirm": "yes"}, form_page=record)
    db.session.rollback()
    assert db.session.get(Participant, lesson["participant"]).erased_at is not None


# -- who sees what: role x field -----------------------------------------------------------


def _views(client, lesson, headers):
    """Every response that could carry a participant's data, as one text."""
    session_id = lesson["session"]["id"]
    responses = [
        client.get(f"/api/v1/sessions/{session_id}/attendance", headers=headers),
        client.get(f"/api/v1/participants/{lesson['participant']}/export", headers=headers),
        client.get(f"/api/v1/sessions/{session_id}", headers=headers),
        client.get(f"/sessions/{session_id}"),
        client.get("/calendar/wards/kim_lien.ics"),
    ]
    return {r.request.path: (r.status_code, r.get_data(as_text=True)) for r in responses}


@pytest.mark.parametrize(
    "who, sees_needs, sees_contacts",
    [
        ("anonymous", False, False),
        ("volunteer", False, False),
        ("helper", False, False),  # staff, but not the lead: no roster
        ("lead", True, False),  # needs to help with, never contacts
        ("organizer", True, True),
    ],
)
def test_privacy_matrix(
    client, lesson, make_volunteer, organizer_headers, who, sees_needs, sees_contacts
):
    headers = {
        "anonymous": {},
        "volunteer": make_volunteer()[1],
        "helper": lesson["helper"],
        "lead": lesson["lead"],
        "organizer": organizer_headers,
    }[who]
    seen = "".join(body for _status, body in _views(client, lesson, headers).values())
    assert (NEEDS_MARKER in seen) is sees_needs, who
    assert (CONTACT_MARKER in seen) is sees_contacts, who
    assert (GUARDIAN_MARKER in seen) is sees_contacts, who


def test_an_organizer_gives_a_participant_a_new_calendar_link(client, lesson, make_user):
    organizer = make_user("organizer")
    log_in(client, organizer.email)
    record = f"/organize/participants/{lesson['participant']}"
    first = submit(client, record + "/calendar-link", {}, form_page=record)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    path = re.search(r"/calendar/p/[^\"<]+\.ics", text(first)).group(0)
    assert client.get(path).status_code == 200
    submit(client, record + "/calendar-link", {}, form_page=record)
    assert client.get(path).status_code == 404
