"""After a session: each volunteer who held a confirmed seat is asked whether they came
(kind `attendance_ask`, a one-tap link that pre-fills the lead's sheet). Planned by a
job at ATTENDANCE_ASK_HOURS after the end (bookings/handlers.py); one message per
booking ever (its dedup key names the booking), so a second run plans nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings.checkin import ask_time, checkin_window
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.extensions import db
from coordinator.notifications.kinds import VOLUNTEER
from coordinator.notifications.models import Notification
from coordinator.notifications.planning import Planned, _plan
from coordinator.sessions.models import SessionStatus, TrainingSession


def ask_if_due(session_id: int, now: datetime) -> Planned:
    """Plan the asks of session `session_id` if it is time (flushes)."""
    session = db.session.get(TrainingSession, session_id)
    if session is None or session.status == SessionStatus.CANCELLED:
        return Planned()
    if ask_time(session) > now or not checkin_window(session).holds(now):
        return Planned()  # moved later (its new job asks), or too late to matter
    bookings = db.session.scalars(
        sa.select(Assignment)
        .where(
            Assignment.session_id == session.id,
            Assignment.status == AssignmentStatus.CONFIRMED,
            Assignment.attendance.is_(None),
            Assignment.self_reported_at.is_(None),
        )
        .order_by(Assignment.id)
    ).all()
    planned = Planned()
    for booking in bookings:
        planned.scheduled += _plan(
            (VOLUNTEER, booking.volunteer_id),
            "attendance_ask",
            now,
            f"a{booking.id}",
            session,
            booking.id,
        )
    return planned


def sessions_never_asked(now: datetime, limit: int = 100) -> list[int]:
    """Sessions due their ask whose job Redis lost (or that ended before the ask
    existed): a confirmed booking, unrecorded, that no `attendance_ask` names, while the
    check-in window is open. For the notification sweep."""
    config = current_app.config
    asked = sa.exists().where(
        Notification.kind == "attendance_ask", Notification.assignment_id == Assignment.id
    )
    return list(
        db.session.scalars(
            sa.select(TrainingSession.id)
            .join(Assignment, Assignment.session_id == TrainingSession.id)
            .where(
                TrainingSession.status != SessionStatus.CANCELLED,
                TrainingSession.ends_at <= now - timedelta(hours=config["ATTENDANCE_ASK_HOURS"]),
                TrainingSession.ends_at > now - timedelta(days=config["CHECKIN_CLOSES_DAYS"]),
                Assignment.status == AssignmentStatus.CONFIRMED,
                Assignment.attendance.is_(None),
                Assignment.self_reported_at.is_(None),
                ~asked,
            )
            .group_by(TrainingSession.id)
            .order_by(TrainingSession.id)
            .limit(limit)
        )
    )
