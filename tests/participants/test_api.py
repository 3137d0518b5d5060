"""POST /api/v1/participants: consent, sensitive data kept out of answers and events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import Participant

MARKER = "MARKER-7c1e-needs"


def payload(**overrides) -> dict:
    data = {
        "full_name": "Lê Thị Hoa",
        "ward": "kim_lien",
        "target_group": "youth_disabilities",
        "accessibility_needs": ["sign_language"],
        "contact": f"0912 345 678 {MARKER}",
        "consent": True,
    }
    data.update(overrides)
    return data


def test_self_registration_with_consent_gets_a_working_private_calendar(client, wards):
    response = client.post("/api/v1/participants", json=payload())

    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "ward", "target_group", "feed_url", "webcal_url", "google_url"}
    assert MARKER not in response.get_data(as_text=True)
    path = body["feed_url"].split("://", 1)[1].split("/", 1)[1]
    feed = client.get(f"/{path}")
    assert feed.status_code == 200
    assert feed.content_type.startswith("text/calendar")
    participant = db.session.get(Participant, body["id"])
    assert participant.consent_at is not None
    assert participant.private.accessibility_needs == ["sign_language"]


def test_self_registration_without_consent_is_refused_and_stores_nothing(client, wards):
    response = client.post("/api/v1/participants", json=payload(consent=False))
    assert response.status_code == 422
    assert "consent" in response.json["messages"]
    assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == 0


@pytest.mark.parametrize("consent", [1, "true", "yes"])
def test_consent_is_a_json_true_not_something_truthy(client, wards, consent):
    """Found by the fuzz test: 1 or "yes" passed as consent (and as any boolean)."""
    response = client.post("/api/v1/participants", json=payload(consent=consent))
    assert response.status_code == 422
    assert "consent" in response.json["messages"]
    assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == 0


def test_an_organizer_registers_someone_on_their_behalf(client, wards, organizer_headers):
    response = client.post(
        "/api/v1/participants",
        json=payload(consent=False, guardian_contact="phụ huynh 0987 000 111"),
        headers=organizer_headers,
    )
    assert response.status_code == 201
    participant = db.session.get(Participant, response.json["id"])
    assert participant.consent_at is None and participant.registered_by is not None


def test_unknown_needs_and_wards_are_422(client, wards):
    assert (
        client.post("/api/v1/participants", json=payload(accessibility_needs=["x_ray"])).status_code
        == 422
    )
    assert client.post("/api/v1/participants", json=payload(ward="atlantis")).status_code == 422


def test_events_about_participants_hold_no_personal_data(client, wards):
    client.post("/api/v1/participants", json=payload())
    payloads = " ".join(str(e.payload) for e in db.session.scalars(sa.select(DomainEvent)))
    assert "participant.created" in [e.type for e in db.session.scalars(sa.select(DomainEvent))]
    assert MARKER not in payloads and "Hoa" not in payloads and "sign_language" not in payloads
