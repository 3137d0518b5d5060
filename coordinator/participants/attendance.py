"""Attendance and assessment, recorded by the session's lead (or an organizer).

Staff see participants' needs (to help), never contacts; the lead records who came,
each participant's level per competence area (1-8, DigComp 2.2) and whether they reached
the basic digital-skills standard.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator.bookings.checkin import require_checkin_open
from coordinator.bookings.models import (
    Assignment,
    AssignmentStatus,
    Registration,
    RegistrationStatus,
)
from coordinator.competences.models import Competence
from coordinator.database import utcnow
from coordinator.errors import Invalid, NotFound
from coordinator.extensions import db
from coordinator.people.models import Participant, User
from coordinator.people.scopes import scope_of
from coordinator.progress.models import Assessment
from coordinator.sessions.models import SessionRole, TrainingSession

LEVELS = range(1, 9)


def is_staff(user: User | None, session: TrainingSession, roles=("lead",)) -> bool:
    """Holds a confirmed booking in one of `roles` of this session."""
    if user is None or user.volunteer is None:
        return False
    return (
        db.session.scalar(
            sa.select(Assignment.id)
            .join(SessionRole, Assignment.role_id == SessionRole.id)
            .where(
                Assignment.session_id == session.id,
                Assignment.volunteer_id == user.volunteer.id,
                Assignment.status == AssignmentStatus.CONFIRMED,
                SessionRole.role.in_(roles),
            )
            .limit(1)
        )
        is not None
    )


def may_record(user: User | None, session: TrainingSession) -> bool:
    """The session's lead, or an organizer of its unit."""
    if user is None:
        return False
    return (user.has_role("organizer") and scope_of(user).covers(session.ward)) or is_staff(
        user, session
    )


def require_recorder(user: User | None, session: TrainingSession) -> None:
    if not may_record(user, session):
        raise NotFound(_l("Session not found."))


def areas() -> list[Competence]:
    """The framework's competence areas (the items without a parent)."""
    return db.session.scalars(
        sa.select(Competence).where(Competence.area_code.is_(None)).order_by(Competence.position)
    ).all()


def door_names(participants: list[Participant]) -> dict[int, str]:
    """Names a lead can tell apart at the door without reading out everyone's full name:
    the given name and the family name's initial ("Mai Đ." for Đỗ Thị Mai), or the full
    name where two in the session would look the same."""
    short: dict[int, str] = {}
    for participant in participants:
        words = (participant.full_name or "—").split()
        short[participant.id] = (
            f"{words[-1]} {words[0][0]}." if len(words) > 1 else (words[0] if words else "—")
        )
    seen = Counter(short.values())
    return {
        p.id: (p.full_name or "—") if seen[short[p.id]] > 1 else short[p.id] for p in participants
    }


def roster(session: TrainingSession) -> list[tuple[Registration, Participant, dict]]:
    """Registered participants with their needs and the levels recorded so far."""
    rows = db.session.execute(
        sa.select(Registration, Participant)
        .join(Participant, Registration.participant_id == Participant.id)
        .where(
            Registration.session_id == session.id,
            Registration.status == RegistrationStatus.REGISTERED,
            Participant.erased_at.is_(None),
        )
        .order_by(Participant.full_name, Participant.id)
    ).all()
    levels: dict[int, dict] = {}
    for a in db.session.scalars(sa.select(Assessment).where(Assessment.session_id == session.id)):
        entry = levels.setdefault(a.participant_id, {"levels": {}, "reached_basic": False})
        entry["levels"][a.competence_code] = a.level
        entry["reached_basic"] = entry["reached_basic"] or a.reached_basic
    return [
        (
            registration,
            participant,
            levels.get(participant.id, {"levels": {}, "reached_basic": False}),
        )
        for registration, participant in rows
    ]


def record(session: TrainingSession, entries: list[dict], actor_id: int | None) -> int:
    """Apply [{registration_id, attended, levels: {area: level}, reached_basic}]; every
    entry is checked before anything is written (409 outside the check-in window).
    Returns the entries applied."""
    require_checkin_open(session)
    known = {area.code for area in areas()}
    registrations = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Registration).where(
                Registration.session_id == session.id,
                Registration.status == RegistrationStatus.REGISTERED,
            )
        )
    }
    errors: dict[str, list[LazyString]] = {}
    for index, entry in enumerate(entries):
        where = f"entries.{index}"
        if entry["registration_id"] not in registrations:
            errors[where] = [_l("Not registered in this session.")]
            continue
        unknown = sorted(set(entry.get("levels", {})) - known)
        if unknown:
            errors[where] = [_l("Unknown areas: %(codes)s.", codes=", ".join(unknown))]
        elif any(level not in LEVELS for level in entry.get("levels", {}).values()):
            errors[where] = [_l("Levels are 1 to 8.")]
        elif entry.get("reached_basic") and not entry.get("levels"):
            errors[where] = [_l("Give at least one level with 'reached basic'.")]
        elif entry.get("levels") and not entry.get("attended"):
            errors[where] = [_l("Only those present are assessed.")]
    if errors:
        raise Invalid(_l("The attendance has errors."), errors)
    now = utcnow()
    for entry in entries:
        registration = registrations[entry["registration_id"]]
        attended = bool(entry.get("attended"))
        if registration.attended != attended:
            registration.attended = attended
            registration.checked_in_at = now if attended else None
        existing = {
            a.competence_code: a
            for a in db.session.scalars(
                sa.select(Assessment).where(
                    Assessment.session_id == session.id,
                    Assessment.participant_id == registration.participant_id,
                )
            )
        }
        wanted = entry.get("levels", {})
        for code, assessment in existing.items():
            if code not in wanted:
                db.session.delete(assessment)
        for code, level in wanted.items():
            assessment = existing.get(code) or Assessment(
                participant_id=registration.participant_id,
                session_id=session.id,
                competence_code=code,
            )
            assessment.level = level
            assessment.reached_basic = bool(entry.get("reached_basic"))
            assessment.assessed_by = actor_id
            assessment.assessed_at = now
            db.session.add(assessment)
    db.session.flush()
    return len(entries)


def get_open_session(session_id: int) -> TrainingSession:
    session = db.session.get(TrainingSession, session_id)
    if session is None:
        raise NotFound(_l("Session not found."))
    return session
