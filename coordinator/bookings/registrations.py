"""Participants in sessions: the same capacity and waitlist rules as volunteer roles,
on the session's participant capacity (training_sessions.registered_count)."""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from coordinator.bookings import counters
from coordinator.bookings.models import LIVE_REGISTRATION, Registration, RegistrationStatus
from coordinator.database import utcnow
from coordinator.errors import Conflict, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import Participant
from coordinator.people.scopes import organizing, visible_or_404
from coordinator.sessions.models import SessionStatus, TrainingSession


def _lock_session(session: TrainingSession) -> None:
    db.session.execute(
        sa.select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update()
    ).all()


def _event(type_: str, registration: Registration, session: TrainingSession) -> None:
    # Ids only: a participant's name, needs and contact never enter an event.
    outbox.record(
        type_,
        "session",
        session.id,
        {
            "session_id": session.id,
            "registration_id": registration.id,
            "participant_id": registration.participant_id,
            "status": registration.status,
            "ward": session.ward,
        },
    )


REGISTRATION_NOT_FOUND = _l("Registration not found.")


def get_registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(REGISTRATION_NOT_FOUND)
    return registration


def organized_registration(registration_id: int) -> Registration:
    """A registration in a session of the caller's units; others answer like a missing id."""
    registration = get_registration(registration_id)
    session = db.session.get(TrainingSession, registration.session_id)
    visible_or_404(session.ward if session else None, REGISTRATION_NOT_FOUND)
    return registration


def _person_key(participant: Participant) -> tuple[str, set[str]]:
    """A participant's name as compared (NFC, case and spacing folded) and contacts
    (their own and their guardian's; phones are stored in E.164, emails case-folded)."""
    name = " ".join(unicodedata.normalize("NFC", participant.full_name or "").casefold().split())
    private = participant.private
    contacts = {
        " ".join(unicodedata.normalize("NFC", value).casefold().split())
        for value in ((private.contact, private.guardian_contact) if private else ())
        if value
    }
    return name, contacts


def _others_registered(
    session: TrainingSession, participant: Participant
) -> list[tuple[Registration, Participant]]:
    """The session's live registrations of other participant rows, oldest first."""
    return [
        (registration, other)
        for registration, other in db.session.execute(
            sa.select(Registration, Participant)
            .join(Participant, Participant.id == Registration.participant_id)
            .where(
                Registration.session_id == session.id,
                Registration.participant_id != participant.id,
                Participant.erased_at.is_(None),
                Registration.status.in_(LIVE_REGISTRATION),
            )
            .order_by(Registration.id)
        )
    ]


def _same_person_registered(
    session: TrainingSession, participant: Participant
) -> Registration | None:
    """A live registration of the session for another participant row with the same
    name and a contact in common: the same person registered twice."""
    name, contacts = _person_key(participant)
    if not name or not contacts:
        return None
    for registration, other in _others_registered(session, participant):
        other_name, other_contacts = _person_key(other)
        if other_name == name and contacts & other_contacts:
            return registration
    return None


def _namesake_registered(session: TrainingSession, participant: Participant) -> bool:
    """A live registration of the session for someone of the same name, neither of them
    with a contact to tell them apart: most often the same form sent again (Back, then
    Send, on a page the browser fetched anew with a new one-time token)."""
    name, contacts = _person_key(participant)
    if not name or contacts:
        return False
    return any(
        _person_key(other) == (name, set())
        for _registration, other in _others_registered(session, participant)
    )


def register(
    session: TrainingSession,
    participant: Participant,
    actor_id: int | None,
    *,
    namesake_confirmed: bool = True,
) -> Registration:
    """Registered while places last, then waitlisted in order of registration. An
    organizer registers people only for sessions of their units. A form (not the API,
    whose Idempotency-Key covers a retry) passes `namesake_confirmed` as the person
    answered: a second registration of a name without any contact then needs them to say
    it is another person."""
    scope = organizing()
    if scope is not None and (participant.user_id is None or participant.user_id != actor_id):
        scope.require(session.ward)
    if session.status != SessionStatus.PUBLISHED or session.starts_at <= utcnow():
        raise Conflict(
            _l("The session takes no registrations."),
            code="session_closed",
        )
    if participant.erased_at is not None:
        raise NotFound(_l("Participant not found."))
    _lock_session(session)
    duplicate = db.session.scalar(
        sa.select(Registration.id).where(
            Registration.session_id == session.id,
            Registration.participant_id == participant.id,
            Registration.status.in_(LIVE_REGISTRATION),
        )
    )
    if duplicate is not None:
        raise Conflict(_l("Already registered for this session."), code="duplicate")
    same_person = _same_person_registered(session, participant)
    if same_person is not None:
        raise Conflict(
            _l(
                "This person is already registered for the session (registration #%(id)s).",
                id=same_person.id,
            ),
            {"participant_id": [_l("Registration #%(id)s.", id=same_person.id)]},
            code="duplicate_registration",
            details={
                "registration_id": same_person.id,
                "participant_id": same_person.participant_id,
            },
        )
    if not namesake_confirmed and _namesake_registered(session, participant):
        raise Conflict(
            _l("Someone with this name is already registered for the session."),
            {
                "another_person": [
                    _l(
                        "Someone named “%(name)s” is already registered, without a phone "
                        "or email. If this is another person, tick the box and send again.",
                        name=participant.full_name,
                    )
                ]
            },
            code="namesake_registered",
        )
    placed = counters.take_one(session, "registered_count", "capacity")
    position = None if placed else counters.next_position(Registration, "session_id", session.id)
    registration = Registration(
        session_id=session.id,
        participant_id=participant.id,
        status=RegistrationStatus.REGISTERED if placed else RegistrationStatus.WAITLISTED,
        waitlist_position=position,
        created_by=actor_id,
    )
    db.session.add(registration)
    db.session.flush()
    _event("registration.created", registration, session)
    return registration


def cancel_registration(registration: Registration) -> Registration:
    """Cancel; a freed place goes to the first on the waitlist."""
    if registration.status == RegistrationStatus.CANCELLED:
        raise Conflict(_l("The registration is already cancelled."), code="not_active")
    session = db.session.get(TrainingSession, registration.session_id)
    _lock_session(session)
    db.session.refresh(registration)  # re-read under the lock (see bookings.operations)
    if registration.status == RegistrationStatus.CANCELLED:
        raise Conflict(_l("The registration is already cancelled."), code="not_active")
    previous, position = registration.status, registration.waitlist_position
    registration.status, registration.waitlist_position = RegistrationStatus.CANCELLED, None
    db.session.flush()
    _event("registration.cancelled", registration, session)
    if previous == RegistrationStatus.WAITLISTED:
        counters.close_gap(Registration, "session_id", session.id, position)
        return registration
    counters.give_back(session, "registered_count")
    head = db.session.scalar(
        sa.select(Registration)
        .where(
            Registration.session_id == session.id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .order_by(Registration.waitlist_position)
        .limit(1)
    )
    if head is not None and counters.take_one(session, "registered_count", "capacity"):
        head_position = head.waitlist_position
        head.status, head.waitlist_position = RegistrationStatus.REGISTERED, None
        db.session.flush()
        counters.close_gap(Registration, "session_id", session.id, head_position)
        _event("registration.promoted", head, session)
    return registration
