"""Participants in sessions: the same capacity and waitlist rules as volunteer roles,
on the session's participant capacity (training_sessions.registered_count)."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import ACTIVE_REGISTRATION, Registration
from coordinator.bookings.operations import expire_positions
from coordinator.database import utcnow
from coordinator.errors import Conflict, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import Participant
from coordinator.sessions.models import TrainingSession


def _lock_session(session: TrainingSession) -> None:
    db.session.execute(
        sa.select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update()
    ).all()


def _take_place(session: TrainingSession) -> bool:
    result = db.session.execute(
        sa.update(TrainingSession)
        .where(
            TrainingSession.id == session.id,
            TrainingSession.registered_count < TrainingSession.capacity,
        )
        .values(registered_count=TrainingSession.registered_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(session, ["registered_count"])
    return result.rowcount == 1


def _free_place(session: TrainingSession) -> None:
    db.session.execute(
        sa.update(TrainingSession)
        .where(TrainingSession.id == session.id, TrainingSession.registered_count > 0)
        .values(registered_count=TrainingSession.registered_count - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(session, ["registered_count"])


def _close_gap(session_id: int, position: int) -> None:
    table = Registration.__table__
    db.session.execute(
        table.update()
        .where(table.c.session_id == session_id, table.c.waitlist_position > position)
        .values(waitlist_position=-(table.c.waitlist_position - 1))
    )
    db.session.execute(
        table.update()
        .where(table.c.session_id == session_id, table.c.waitlist_position < 0)
        .values(waitlist_position=-table.c.waitlist_position)
    )
    expire_positions(Registration)


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


def get_registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise NotFound("Không tìm thấy đăng ký / Registration not found.")
    return registration


def register(
    session: TrainingSession, participant: Participant, actor_id: int | None
) -> Registration:
    """Registered while places last, then waitlisted in order of registration."""
    if session.status != "published" or session.starts_at <= utcnow():
        raise Conflict(
            "Buổi học không nhận đăng ký / The session takes no registrations.",
            code="session_closed",
        )
    if participant.erased_at is not None:
        raise NotFound("Không tìm thấy học viên / Participant not found.")
    _lock_session(session)
    duplicate = db.session.scalar(
        sa.select(Registration.id).where(
            Registration.session_id == session.id,
            Registration.participant_id == participant.id,
            sa.text(ACTIVE_REGISTRATION),
        )
    )
    if duplicate is not None:
        raise Conflict(
            "Đã đăng ký buổi này / Already registered for this session.", code="duplicate"
        )
    placed = _take_place(session)
    position = None
    if not placed:
        highest = db.session.scalar(
            sa.select(sa.func.max(Registration.waitlist_position)).where(
                Registration.session_id == session.id
            )
        )
        position = (highest or 0) + 1
    registration = Registration(
        session_id=session.id,
        participant_id=participant.id,
        status="registered" if placed else "waitlisted",
        waitlist_position=position,
        created_by=actor_id,
    )
    db.session.add(registration)
    db.session.flush()
    _event("registration.created", registration, session)
    return registration


def cancel_registration(registration: Registration) -> Registration:
    """Cancel; a freed place goes to the first on the waitlist."""
    if registration.status == "cancelled":
        raise Conflict("Đăng ký đã hủy / The registration is already cancelled.", code="not_active")
    session = db.session.get(TrainingSession, registration.session_id)
    _lock_session(session)
    db.session.refresh(registration)  # re-read under the lock (see bookings.operations)
    if registration.status == "cancelled":
        raise Conflict("Đăng ký đã hủy / The registration is already cancelled.", code="not_active")
    previous, position = registration.status, registration.waitlist_position
    registration.status, registration.waitlist_position = "cancelled", None
    db.session.flush()
    _event("registration.cancelled", registration, session)
    if previous == "waitlisted":
        _close_gap(session.id, position)
        return registration
    _free_place(session)
    head = db.session.scalar(
        sa.select(Registration)
        .where(Registration.session_id == session.id, Registration.status == "waitlisted")
        .order_by(Registration.waitlist_position)
        .limit(1)
    )
    if head is not None and _take_place(session):
        head_position = head.waitlist_position
        head.status, head.waitlist_position = "registered", None
        db.session.flush()
        _close_gap(session.id, head_position)
        _event("registration.promoted", head, session)
    return registration
