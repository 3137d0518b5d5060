"""Shared helpers of the calendar feed tests (no fixtures: those live in conftest)."""

from __future__ import annotations

import sqlalchemy as sa
from icalendar import Calendar

from coordinator.events import dispatch
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import Participant, ParticipantPrivate

LONG_TITLE = (
    "Hướng dẫn người cao tuổi dùng VNeID, Dịch vụ công; thanh toán không dùng tiền mặt "
    "và nhận diện lừa đảo trực tuyến — buổi thực hành có phiên dịch ngôn ngữ ký hiệu"
)


def run_events() -> int:
    """Run the handlers of every unprocessed event, as the RQ worker would."""
    db.session.commit()
    ids = db.session.scalars(
        sa.select(DomainEvent.id).where(DomainEvent.processed_at.is_(None)).order_by(DomainEvent.id)
    ).all()
    for event_id in ids:
        dispatch.process_event(event_id)
    return len(ids)


def signup(client, session_id: int, headers: dict, role: str = "helper"):
    response = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "confirmed", response.json
    return response.json


def feed_link(client, headers: dict) -> str:
    """Rotate the caller's private feed token; the path part of the new URL."""
    response = client.post("/api/v1/me/feed-token", headers=headers)
    assert response.status_code == 201, response.json
    return "/" + response.json["feed_url"].split("/", 3)[3]


def make_participant(name: str, contact: str, needs: list[str], ward: str = "kim_lien") -> int:
    participant = Participant(full_name=name, ward=ward, target_group="residents")
    participant.private = ParticipantPrivate(
        accessibility_needs=needs, contact=contact, guardian_contact=contact + "-guardian"
    )
    db.session.add(participant)
    db.session.commit()
    return participant.id


def register(client, session_id: int, participant_id: int, headers: dict) -> None:
    response = client.post(
        f"/api/v1/sessions/{session_id}/registrations",
        json={"participant_id": participant_id},
        headers=headers,
    )
    assert response.status_code == 201, response.json


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def events_by_uid(body: bytes) -> dict:
    return {str(e["UID"]): e for e in parse(body).walk("VEVENT")}
