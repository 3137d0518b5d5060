"""A way back to one's registration without an account: a private link per registration
(shown once after registering, and sent again to the contact given) to cancel it or get a
new calendar link. The link is signed (SECRET_KEY) and names the registration and its
participant; it works while the registration is live and the session not over.

Asked for by email, the links come in one mail per participant. Asked for by phone, one
short message (Zalo, else SMS: the notifications' `registration_links`) carries a single
link to a page listing the registrations of everyone reached at that number, valid
LIST_LINK_DAYS; at most PHONE_MESSAGES_PER_DAY such messages a day, since each costs
money and rings a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from coordinator.bookings.models import LIVE_REGISTRATION, Registration
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import Participant, ParticipantPrivate
from coordinator.phones import PhoneRefused, looks_like_phone, to_e164
from coordinator.sessions.models import TrainingSession

LINKS_REQUESTED = "participant.links_requested"
_SALT = "registration-way-back"
_LIST_SALT = "registration-way-back-list"
LIST_LINK_DAYS = 7
PHONE_MESSAGES_PER_DAY = 3


def _serializer(salt: str = _SALT) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def manage_token(registration: Registration) -> str:
    return _serializer().dumps([registration.id, registration.participant_id])


def manage_url(registration: Registration) -> str:
    """The link for a mail, on PUBLIC_BASE_URL."""
    return f"{_base_url()}/registrations/{manage_token(registration)}"


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


def reached_at(phone: str) -> list[int]:
    """The participants whose messages go to this E.164 number and who have a live
    registration (a parent registering three children gives one number three times; a
    guardian's contact, when given, is the only one: a minor is not messaged directly)."""
    reached = sa.func.coalesce(
        sa.func.nullif(ParticipantPrivate.guardian_contact, ""), ParticipantPrivate.contact
    )
    ids = db.session.scalars(
        sa.select(ParticipantPrivate.participant_id)
        .where(reached == phone)
        .order_by(ParticipantPrivate.participant_id)
    )
    return [participant_id for participant_id in ids if live_registrations_of(participant_id)]


def list_url(participant_ids: list[int], issued_at: datetime) -> str:
    """The link in a phone message: a page listing these participants' live
    registrations, each with its own link. The same issue time gives the same link (a
    retried send)."""
    token = _serializer(_LIST_SALT).dumps([participant_ids, int(issued_at.timestamp())])
    return f"{_base_url()}/registrations/mine/{token}"


def registrations_for_list(token: str) -> list[tuple[Participant, Registration]] | None:
    """(participant, registration) of every live registration a list link names, while
    the link is younger than LIST_LINK_DAYS; None for a link that is not one."""
    try:
        participant_ids, issued = _serializer(_LIST_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(participant_ids, list) or not isinstance(issued, int):
        return None
    if datetime.fromtimestamp(issued, UTC) + timedelta(days=LIST_LINK_DAYS) <= utcnow():
        return None
    rows = []
    for participant_id in participant_ids:
        participant = db.session.get(Participant, participant_id)
        if participant is not None and participant.erased_at is None:
            rows += [(participant, r) for r in live_registrations_of(participant_id)]
    return rows


def request_links(contact: str) -> None:
    """Record that the links be sent to this email address or Vietnamese mobile number
    (nothing when it reaches nobody: the page answers the same either way); the caller
    commits. The contact itself stays out of the event."""
    if not looks_like_phone(contact):
        _request_by_email(contact)
        return
    try:
        participant_ids = reached_at(to_e164(contact))
    except PhoneRefused:
        return
    if participant_ids:  # one message for all of them, named after the first
        outbox.record(LINKS_REQUESTED, "participant", participant_ids[0], {"by": "phone"})


def _request_by_email(email: str) -> None:
    """Per participant whose contact or guardian's contact is this address."""
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
