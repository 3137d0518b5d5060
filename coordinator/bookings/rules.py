"""Who may take which role when: an open session, skills, expert leads, one booking per
session, time conflicts with travel, and the weekly limit. Reads only; the operations
decide what to write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
from flask import current_app
from flask_babel import LazyString, format_datetime
from flask_babel import lazy_gettext as _l

from coordinator.bookings.models import LIVE_ASSIGNMENT, SEAT_HOLDING, Assignment
from coordinator.database import utcnow
from coordinator.errors import Conflict, Invalid, joined
from coordinator.extensions import db
from coordinator.geography.operations import neighbors_of
from coordinator.matching.engine.problem import DAY, Window, holds, weekly_spans
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession

__all__ = ["SEAT_HOLDING", "Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Why a volunteer cannot take a role: an error code and a sentence (read in the
    reader's language)."""

    code: str
    message: LazyString


def role_refusal(volunteer: Volunteer, role: SessionRole) -> Refusal | None:
    """Skills the role requires; a lead must be an expert; an interpreter must sign."""
    missing = sorted(set(role.required_skills) - set(volunteer.skills))
    if missing:
        return Refusal(
            "missing_skills",
            _l(
                "Missing skills for the role '%(role)s': %(skills)s.",
                role=role.role,
                skills=", ".join(missing),
            ),
        )
    if role.role == "lead" and not volunteer.is_expert:
        return Refusal("not_expert", _l("The lead role needs an expert."))
    if role.role == "interpreter" and "sign_language" not in volunteer.accessibility_skills:
        return Refusal(
            "missing_skills",
            _l("An interpreter must know sign language."),
        )
    return None


def travel_gap() -> timedelta:
    return timedelta(minutes=current_app.config["TRAVEL_GAP_MINUTES"])


def _week_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday in the display time zone."""
    local = moment.astimezone(display_timezone())
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday, monday + timedelta(days=7)


def time_refusal(volunteer: Volunteer, session: TrainingSession) -> Refusal | None:
    """Overlaps with the volunteer's other bookings, counting travel between wards that are
    neither the same nor neighbours; then the weekly limit."""
    return clash_refusal(volunteer, session) or weekly_refusal(volunteer, session)


def clash_refusal(volunteer: Volunteer, session: TrainingSession) -> Refusal | None:
    """Overlaps with the volunteer's other bookings, counting travel between wards that are
    neither the same nor neighbours (a double booking: never overridable)."""
    gap = travel_gap()
    others = db.session.execute(
        sa.select(
            TrainingSession.id,
            TrainingSession.title,
            TrainingSession.ward,
            TrainingSession.starts_at,
            TrainingSession.ends_at,
        )
        .join(Assignment, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.id != session.id,
            TrainingSession.starts_at < session.ends_at + gap,
            TrainingSession.ends_at > session.starts_at - gap,
        )
    ).all()
    near = neighbors_of(session.ward) | {session.ward} if others else set()
    for other in others:
        overlaps = other.starts_at < session.ends_at and other.ends_at > session.starts_at
        if overlaps or other.ward not in near:
            clash = (
                _l(
                    "Clashes with session #%(id)s '%(title)s' (overlaps).",
                    id=other.id,
                    title=other.title,
                )
                if overlaps
                else _l(
                    "Clashes with session #%(id)s '%(title)s' (no time to travel).",
                    id=other.id,
                    title=other.title,
                )
            )
            return Refusal("time_conflict", clash)
    return None


def weekly_refusal(volunteer: Volunteer, session: TrainingSession) -> Refusal | None:
    """The volunteer already holds `max_sessions_per_week` bookings in the session's week."""
    week_start, week_end = _week_bounds(session.starts_at)
    booked = db.session.execute(
        sa.select(sa.func.count(Assignment.id))
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.id != session.id,
            TrainingSession.starts_at >= week_start,
            TrainingSession.starts_at < week_end,
        )
    ).scalar_one()
    if booked >= volunteer.max_sessions_per_week:
        return Refusal(
            "weekly_limit",
            _l(
                "Already %(booked)s sessions that week (limit %(limit)s).",
                booked=booked,
                limit=volunteer.max_sessions_per_week,
            ),
        )
    return None


def availability_refusal(volunteer: Volunteer, session: TrainingSession) -> Refusal | None:
    """The session lies outside the volunteer's weekly availability, read as the matcher
    reads it (`matching.engine.problem`: windows that meet, at midnight too, join)."""
    spans = weekly_spans(
        tuple(Window(w.weekday, w.start_minute, w.end_minute) for w in volunteer.availability)
    )
    local = display_timezone()
    starts, ends = session.starts_at.astimezone(local), session.ends_at.astimezone(local)
    local_start = starts.hour * 60 + starts.minute
    local_end = (ends.date() - starts.date()).days * DAY + ends.hour * 60 + ends.minute
    if holds(spans, starts.weekday(), local_start, local_end):
        return None
    return Refusal(
        "outside_availability",
        _l(
            "Outside the volunteer's weekly availability (%(starts)s-%(ends)s).",
            # the day's name in the reader's language, when the message is read
            starts=LazyString(format_datetime, starts, "EEE HH:mm"),
            ends=LazyString(format_datetime, ends, "HH:mm"),
        ),
    )


# Rules an organizer may knowingly break (`override`), by the code of their refusal; a
# clash (double booking) is never among them.
OVERRIDABLE_RULES = {
    "outside_availability": "availability",
    "weekly_limit": "weekly_limit",
    "missing_skills": "required_skills",
    "not_expert": "required_skills",
}


def rule_refusals(
    volunteer: Volunteer, session: TrainingSession, role: SessionRole
) -> list[Refusal]:
    """The overridable rules this booking breaks: skills, availability, weekly limit."""
    found = [
        role_refusal(volunteer, role),
        availability_refusal(volunteer, session),
        weekly_refusal(volunteer, session),
    ]
    return [refusal for refusal in found if refusal is not None]


def role_of(session: TrainingSession, role_name: str) -> SessionRole:
    """The session's role of that name, or a field error naming the roles it has."""
    role = next((r for r in session.roles if r.role == role_name), None)
    if role is None:
        known = ", ".join(r.role for r in session.roles) or "-"
        raise Invalid.field(
            "role",
            _l(
                "The session has no role '%(role)s' (its roles: %(roles)s).",
                role=role_name,
                roles=known,
            ),
        )
    return role


def require_open(session: TrainingSession) -> None:
    """409 unless the session is published and has not started."""
    if session.status != SessionStatus.PUBLISHED:
        raise Conflict(_l("The session is cancelled or over."), code="session_closed")
    if session.starts_at <= utcnow():
        raise Conflict(_l("The session has already started."), code="session_closed")


def refuse(refusal: Refusal, field: str = "volunteer_id") -> NoReturn:
    """Raise the refusal: a field error for what the volunteer lacks, else a conflict."""
    error = Invalid if refusal.code in ("missing_skills", "not_expert") else Conflict
    raise error(refusal.message, {field: [refusal.message]}, code=refusal.code)


def existing_booking(session_id: int, volunteer_id: int) -> Assignment | None:
    """The volunteer's live booking in the session, if any."""
    return db.session.scalar(
        sa.select(Assignment).where(
            Assignment.session_id == session_id,
            Assignment.volunteer_id == volunteer_id,
            Assignment.status.in_(LIVE_ASSIGNMENT),
        )
    )


def _require_bookable(volunteer: Volunteer, session: TrainingSession) -> None:
    if not volunteer.active:
        raise Conflict(_l("The volunteer is inactive."))
    if existing_booking(session.id, volunteer.id) is not None:
        raise Conflict(
            _l("Already signed up for this session."),
            {"volunteer_id": [_l("Already booked in this session.")]},
            code="duplicate",
        )


def check_volunteer(volunteer: Volunteer, session: TrainingSession, role: SessionRole) -> None:
    """Every rule for this volunteer in this role of this session, raised as an error."""
    _require_bookable(volunteer, session)
    refusal = role_refusal(volunteer, role) or time_refusal(volunteer, session)
    if refusal:
        refuse(refusal)


def outside_rules(
    refusals: list[Refusal],
    field: str = "override",
    per_member: dict[str, list[LazyString]] | None = None,
) -> Conflict:
    """The 409 naming each rule broken (`rules`: availability, weekly_limit,
    required_skills), which `override: true` sets aside."""
    broken = sorted({OVERRIDABLE_RULES[r.code] for r in refusals})
    sentences = [message for messages in (per_member or {}).values() for message in messages]
    sentences = sentences or [r.message for r in refusals]
    return Conflict(
        joined(
            (
                _l("Outside the assignment rules (%(rules)s):", rules=", ".join(broken)),
                *sentences,
                _l("Send override: true to assign anyway."),
            )
        ),
        {field: per_member if per_member is not None else sentences},
        code="outside_rules",
        details={"rules": broken},
    )


def check_organizer_assignment(
    volunteer: Volunteer, session: TrainingSession, role: SessionRole, override: bool
) -> list[str]:
    """An organizer's direct assignment: a duplicate or a clash is always refused; the
    other rules (skills, availability, weekly limit) are a 409 `outside_rules` unless
    `override`. Returns the rules overridden (for the audit trail)."""
    _require_bookable(volunteer, session)
    clash = clash_refusal(volunteer, session)
    if clash:
        refuse(clash)
    refusals = rule_refusals(volunteer, session, role)
    if refusals and not override:
        raise outside_rules(refusals)
    return sorted({OVERRIDABLE_RULES[r.code] for r in refusals})
