"""A participant's own data: what we hold (exported as JSON on request) and its erasure,
which keeps only anonymous counts so the movement's progress figures stay true."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from coordinator.bookings.models import Registration, RegistrationStatus
from coordinator.bookings.registrations import cancel_registration
from coordinator.calendar.tokens import forget_feed_tokens
from coordinator.database import utcnow
from coordinator.errors import Conflict, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import (
    MAX_ID,
    FeedToken,
    Participant,
    User,
)
from coordinator.people.scopes import current_scope
from coordinator.progress.models import Assessment, ErasedParticipantCount
from coordinator.sessions.models import SessionStatus, TrainingSession


def get_participant(participant_id: int) -> Participant:
    participant = (
        db.session.get(Participant, participant_id) if 0 < participant_id <= MAX_ID else None
    )
    if participant is None or participant.erased_at is not None:
        raise NotFound(_l("Participant not found."))
    return participant


def organizes(participant: Participant) -> bool:
    """The caller organizes the unit the participant lives in, or one of a session they
    registered for."""
    scope = current_scope()
    if scope.covers(participant.ward):
        return True
    return (
        not scope.national
        and db.session.scalar(
            sa.select(Registration.id)
            .join(TrainingSession, Registration.session_id == TrainingSession.id)
            .where(Registration.participant_id == participant.id, scope.where(TrainingSession.ward))
            .limit(1)
        )
        is not None
    )


def require_owner_or_organizer(user: User | None, participant: Participant) -> None:
    """Organizers of the participant's units, or the participant's own login; others get
    the same 404 as a missing id (an id must not reveal that someone exists)."""
    if user is not None and (
        participant.user_id == user.id or (user.has_role("organizer") and organizes(participant))
    ):
        return
    raise NotFound(_l("Participant not found."))


def organized_participant(participant_id: int) -> Participant:
    """A participant for the organizers' pages: of the caller's units, or 404."""
    participant = get_participant(participant_id)
    if not organizes(participant):
        raise NotFound(_l("Participant not found."))
    return participant


def export(participant: Participant) -> dict:
    """Everything we hold about one participant, for them (or their guardian)."""
    private = participant.private
    rows = db.session.execute(
        sa.select(Registration, TrainingSession)
        .join(TrainingSession, Registration.session_id == TrainingSession.id)
        .where(Registration.participant_id == participant.id)
        .order_by(TrainingSession.starts_at)
    ).all()
    assessments = db.session.scalars(
        sa.select(Assessment)
        .where(Assessment.participant_id == participant.id)
        .order_by(Assessment.assessed_at, Assessment.competence_code)
    ).all()
    return {
        "id": participant.id,
        "full_name": participant.full_name,
        "ward": participant.ward,
        "target_group": participant.target_group,
        "locale": participant.locale,
        "consent_at": participant.consent_at.isoformat() if participant.consent_at else None,
        "created_at": participant.created_at.isoformat(),
        "accessibility_needs": list(private.accessibility_needs) if private else [],
        "contact": private.contact if private else None,
        "guardian_contact": private.guardian_contact if private else None,
        "notification_settings": participant.notification_settings or {},
        "registrations": [
            {
                "session_id": session.id,
                "title": session.title,
                "starts_at": session.starts_at.isoformat(),
                "status": registration.status,
                "attended": registration.attended,
            }
            for registration, session in rows
        ],
        "assessments": [
            {
                "session_id": a.session_id,
                "competence": a.competence_code,
                "level": a.level,
                "reached_basic": a.reached_basic,
                "assessed_at": a.assessed_at.isoformat(),
            }
            for a in assessments
        ],
    }


def erase(participant: Participant) -> None:
    """Delete name, needs, contacts, assessments and calendar tokens; cancel future
    registrations; add the person to the anonymous counts of their ward and group."""
    if participant.erased_at is not None:
        raise Conflict(_l("Already erased."))
    # The same definitions as the progress figures: registered in a session that was not
    # cancelled; assessed as having reached the basic standard.
    enrolled = db.session.scalar(
        sa.select(sa.func.count(Registration.id))
        .join(TrainingSession, Registration.session_id == TrainingSession.id)
        .where(
            Registration.participant_id == participant.id,
            Registration.status == RegistrationStatus.REGISTERED,
            TrainingSession.status != SessionStatus.CANCELLED,
        )
    )
    reached = db.session.scalar(
        sa.select(sa.func.count(Assessment.id)).where(
            Assessment.participant_id == participant.id, Assessment.reached_basic.is_(True)
        )
    )
    for registration in db.session.scalars(
        sa.select(Registration)
        .join(TrainingSession, Registration.session_id == TrainingSession.id)
        .where(
            Registration.participant_id == participant.id,
            Registration.status != RegistrationStatus.CANCELLED,
            TrainingSession.starts_at > utcnow(),
        )
    ):
        cancel_registration(registration)
    counts = db.session.scalar(
        sa.select(ErasedParticipantCount).where(
            ErasedParticipantCount.ward == participant.ward,
            ErasedParticipantCount.target_group == participant.target_group,
        )
    )
    if counts is None:
        counts = ErasedParticipantCount(
            ward=participant.ward, target_group=participant.target_group, enrolled=0, reached=0
        )
        db.session.add(counts)
    counts.enrolled += 1 if enrolled else 0
    counts.reached += 1 if reached else 0
    db.session.execute(sa.delete(Assessment).where(Assessment.participant_id == participant.id))
    if participant.private is not None:
        db.session.delete(participant.private)
    forget_feed_tokens(
        db.session.scalars(
            sa.delete(FeedToken)
            .where(FeedToken.participant_id == participant.id)
            .returning(FeedToken.token_hash)
        ).all()
    )
    participant.full_name = None
    participant.notification_settings = {}
    participant.erased_at = utcnow()
    if participant.user_id is not None:
        user = db.session.get(User, participant.user_id)
        participant.user_id = None
        if user is not None and user.role == "participant":
            user.active = False
            user.email = f"erased-{participant.id}@invalid"
            user.password_hash = None
    db.session.flush()
    outbox.record(
        "participant.erased", "participant", participant.id, {"participant_id": participant.id}
    )
