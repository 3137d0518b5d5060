"""Check-in: when attendance may be recorded, and volunteers' attendance per booking.

The window is the same for participants (`participants/attendance.py`) and volunteers:
from `CHECKIN_OPENS_HOURS` before the start to `CHECKIN_CLOSES_DAYS` after the end of a
session that was not cancelled. The session's lead or an organizer of its unit records,
for each confirmed booking, `attended`, `late`, `no_show` or `excused`; hours count the
first two (`progress/hours.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator.bookings.models import VOLUNTEER_ATTENDANCE, Assignment, AssignmentStatus
from coordinator.database import utcnow
from coordinator.errors import Conflict, Invalid
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.text import vietnamese_name_key


@dataclass(frozen=True)
class Window:
    """When attendance of a session may be recorded."""

    opens: datetime
    closes: datetime

    def holds(self, moment: datetime) -> bool:
        return self.opens <= moment <= self.closes


def checkin_window(session: TrainingSession) -> Window:
    """From CHECKIN_OPENS_HOURS before the start to CHECKIN_CLOSES_DAYS after the end."""
    config = current_app.config
    return Window(
        opens=session.starts_at - timedelta(hours=config["CHECKIN_OPENS_HOURS"]),
        closes=session.ends_at + timedelta(days=config["CHECKIN_CLOSES_DAYS"]),
    )


def checkin_open(session: TrainingSession, now: datetime | None = None) -> bool:
    """Attendance may be recorded now: the session is not cancelled and in its window."""
    return session.status != SessionStatus.CANCELLED and checkin_window(session).holds(
        now or utcnow()
    )


def require_checkin_open(session: TrainingSession, now: datetime | None = None) -> None:
    """409 `checkin_closed` outside the window, or for a cancelled session."""
    if session.status == SessionStatus.CANCELLED:
        raise Conflict(
            _l("The session is cancelled: no attendance to record."),
            code="checkin_closed",
        )
    window = checkin_window(session)
    moment = now or utcnow()
    if window.holds(moment):
        return
    local = display_timezone()
    fmt = "%H:%M %d/%m/%Y"
    if moment < window.opens:
        opens = window.opens.astimezone(local).strftime(fmt)
        message = _l("Check-in opens at %(time)s.", time=opens)
    else:
        closes = window.closes.astimezone(local).strftime(fmt)
        message = _l("Check-in closed at %(time)s.", time=closes)
    raise Conflict(message, code="checkin_closed")


def ask_time(session: TrainingSession) -> datetime:
    """When the volunteers are asked whether they came: ATTENDANCE_ASK_HOURS after the end."""
    return session.ends_at + timedelta(hours=current_app.config["ATTENDANCE_ASK_HOURS"])


@dataclass(frozen=True)
class StaffEntry:
    """One confirmed booking on the volunteers' sheet."""

    assignment: Assignment
    full_name: str
    role: str


def staff_roster(session: TrainingSession) -> list[StaffEntry]:
    """The session's confirmed bookings, leads first, then by name."""
    rows = sorted(
        db.session.execute(
            sa.select(Assignment, Volunteer.full_name, SessionRole.role)
            .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
            .join(SessionRole, SessionRole.id == Assignment.role_id)
            .where(
                Assignment.session_id == session.id,
                Assignment.status == AssignmentStatus.CONFIRMED,
            )
        ).all(),
        key=lambda row: (row[2] != "lead", row[2], vietnamese_name_key(row[1]), row[0].id),
    )
    return [StaffEntry(assignment, name, role) for assignment, name, role in rows]


def record_volunteers(
    session: TrainingSession, entries: list[dict[str, Any]], actor_id: int | None
) -> int:
    """Apply [{assignment_id, status}] to the session's confirmed bookings, all or none
    (422 naming each bad entry; 409 outside the window). Returns the bookings changed."""
    require_checkin_open(session)
    bookings = {entry.assignment.id: entry.assignment for entry in staff_roster(session)}
    # Keyed as marshmallow keys a list's errors: {"<index>": {"<field>": [...]}}.
    errors: dict[str, dict[str, list[LazyString]]] = {}
    seen: set[int] = set()
    for index, entry in enumerate(entries):
        if entry["assignment_id"] not in bookings:
            errors[str(index)] = {"assignment_id": [_l("No confirmed booking here.")]}
        elif entry["assignment_id"] in seen:
            errors[str(index)] = {"assignment_id": [_l("Given twice.")]}
        elif entry["status"] not in VOLUNTEER_ATTENDANCE:
            choices = ", ".join(VOLUNTEER_ATTENDANCE)
            errors[str(index)] = {"status": [_l("Must be one of: %(choices)s.", choices=choices)]}
        seen.add(entry["assignment_id"])
    if errors:
        raise Invalid(_l("The attendance has errors."), errors)
    now = utcnow()
    changed = []
    for entry in entries:
        booking = bookings[entry["assignment_id"]]
        if booking.attendance == entry["status"] and booking.attendance_recorded_by is not None:
            continue
        booking.attendance = entry["status"]
        booking.attendance_recorded_by = actor_id
        booking.attendance_recorded_at = now
        changed.append({"assignment_id": booking.id, "status": entry["status"]})
    if changed:
        outbox.record(
            "attendance.volunteers_recorded",
            "session",
            session.id,
            {"session_id": session.id, "ward": session.ward, "entries": changed},
            actor_id=actor_id,
        )
    db.session.flush()
    return len(changed)


def self_report(assignment: Assignment, now: datetime) -> Assignment:
    """The volunteer's own "I came" (the post-session ask's link): recorded once, within
    the check-in window, for a confirmed booking. It pre-fills the lead's sheet; the
    lead's record (`attendance`) wins and is never changed by it."""
    session = db.session.get_one(TrainingSession, assignment.session_id)
    require_checkin_open(session, now)
    if assignment.status != AssignmentStatus.CONFIRMED:
        raise Conflict(
            _l("You are no longer booked on this session."),
            code="not_confirmed",
        )
    if assignment.self_reported_at is None:
        assignment.self_reported_at = now
        outbox.record(
            "attendance.self_reported",
            "session",
            session.id,
            {
                "session_id": session.id,
                "ward": session.ward,
                "assignment_id": assignment.id,
                "volunteer_id": assignment.volunteer_id,
            },
        )
    db.session.flush()
    return assignment
