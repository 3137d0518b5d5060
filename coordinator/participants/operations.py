"""Registering participants. Needs and contacts go to ParticipantPrivate and nowhere
else: not into events, logs, job arguments or the response."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from coordinator.calendar.tokens import rotate_feed_token
from coordinator.database import utcnow
from coordinator.errors import Invalid
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.operations import require_ward
from coordinator.people.models import Participant, ParticipantPrivate
from coordinator.people.scopes import require_in_scope
from coordinator.vocabularies.terms import unknown_codes


def create_participant(
    data: dict[str, Any], *, by_organizer: bool, actor_id: int | None
) -> tuple[Participant, str]:
    """A participant and their private feed token. Self-registration needs consent; an
    organizer registers on someone's behalf (e.g. a minor, with a guardian's contact)."""
    if not by_organizer and not data.get("consent"):
        raise Invalid.field("consent", _l("Consent to the processing of your data is required."))
    require_ward(data["ward"], current=True)
    if by_organizer and not data.get("consent"):  # on someone's behalf: one's own units only
        require_in_scope(data["ward"])
    unknown = unknown_codes("accessibility_skills", data.get("accessibility_needs", []))
    if unknown:
        raise Invalid.field(
            "accessibility_needs", _l("Unknown: %(codes)s.", codes=", ".join(unknown))
        )
    participant = Participant(
        full_name=data["full_name"],
        ward=data["ward"],
        target_group=data["target_group"],
        consent_at=utcnow() if data.get("consent") else None,
        registered_by=actor_id,
        locale=data.get("locale", "vi"),
        private=ParticipantPrivate(
            accessibility_needs=data.get("accessibility_needs", []),
            contact=data.get("contact"),
            guardian_contact=data.get("guardian_contact"),
        ),
    )
    db.session.add(participant)
    db.session.flush()
    token = rotate_feed_token(participant_id=participant.id)
    outbox.record(
        "participant.created",
        "participant",
        participant.id,
        {"participant_id": participant.id, "ward": participant.ward},
    )
    return participant, token
