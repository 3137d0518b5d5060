"""A way back to one's registration without an account: a private link per registration
(shown once after registering, and sent again to the email address given) to cancel it or
get a new calendar link. The link is signed (SECRET_KEY) and names the registration and
its participant; it works while the registration is live and the session not over."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from coordinator.bookings.models import LIVE_REGISTRATION, Registration
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import ParticipantPrivate
from coordinator.sessions.models import TrainingSession

LINKS_REQUESTED = "participant.links_requested"
_SALT = "registration-way-back"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def manage_token(registration: Registration) -> str:
    return _serializer().dumps([registration.id, registration.participant_id])


def manage_url(registration: Registration) -> str:
    """The link for a mail, on PUBLIC_BASE_URL."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/registrations/{manage_token(registration)}"


def registration_for(token: str) -> Registration | None:
    """The live registration of a session not yet over that the token names."""
    try:
        registration_id, participant_id = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(registration_id, int):
        return None
    registration = db.session.get(Registration, registration_id)
    if (
        registration is None
        or registration.participant_id != participant_id
        or registration.status not in LIVE_REGISTRATION
    ):
        return None
    session = db.session.get(TrainingSession, registration.session_id)
    return registration if session is not None and session.ends_at > utcnow() else None


def live_registrations_of(participant_id: int) -> list[Registration]:
    """The participant's live registrations in sessions not yet over, soonest first."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .join(TrainingSession, TrainingSession.id == Registration.session_id)
            .where(
                Registration.participant_id == participant_id,
                Registration.status.in_(LIVE_REGISTRATION),
                TrainingSession.ends_at > utcnow(),
            )
            .order_by(TrainingSession.starts_at)
        )
    )


def request_links(email: str) -> None:
    """Record, per participant whose contact or guardian's contact is this address, that
    their links be mailed there (nothing otherwise: the page answers the same either
    way); the caller commits. The address itself stays out of the event."""
    address = email.strip().lower()
    participant_ids = db.session.scalars(
        sa.select(ParticipantPrivate.participant_id).where(
            sa.or_(
                sa.func.lower(ParticipantPrivate.contact) == address,
                sa.func.lower(ParticipantPrivate.guardian_contact) == address,
            )
        )
    ).all()
    for participant_id in participant_ids:
        if live_registrations_of(participant_id):
            which = "guardian" if _is_guardian(participant_id, address) else "contact"
            outbox.record(LINKS_REQUESTED, "participant", participant_id, {"to": which})


def _is_guardian(participant_id: int, address: str) -> bool:
    private = db.session.get(ParticipantPrivate, participant_id)
    return private is not None and (private.contact or "").lower() != address
