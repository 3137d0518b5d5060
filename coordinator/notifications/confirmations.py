"""Who has confirmed they will come: a volunteer confirms a booking with the day-before
reminder's one-tap "Xác nhận" (or has just decided it: a booking confirmed after that
reminder went out needs no second yes). Those who have not by the evening before are
listed for the organizer (the unconfirmed_volunteers message and the staffing page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.extensions import db
from coordinator.notifications import ladder
from coordinator.notifications.models import AnswerToken, Notification
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession

DAY_BEFORE = "reminder_1d"


@dataclass(frozen=True)
class Unconfirmed:
    session_id: int
    assignment_id: int
    volunteer_id: int
    volunteer_name: str
    role: str
    session_title: str


def confirmed_ids(assignment_ids: list[int]) -> set[int]:
    """The bookings whose day-before reminder was answered "Xác nhận"."""
    if not assignment_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(AnswerToken.assignment_id)
            .join(Notification, Notification.id == AnswerToken.notification_id)
            .where(
                AnswerToken.assignment_id.in_(assignment_ids),
                AnswerToken.action == "accept",
                Notification.kind == DAY_BEFORE,
            )
        )
    )


def unconfirmed(sessions: list[TrainingSession]) -> list[Unconfirmed]:
    """Confirmed bookings of these sessions not confirmed again since the day before."""
    by_id = {s.id: s for s in sessions}
    if not by_id:
        return []
    rows = db.session.execute(
        sa.select(Assignment, Volunteer.full_name)
        .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
        .where(
            Assignment.session_id.in_(by_id),
            Assignment.status == AssignmentStatus.CONFIRMED,
        )
        .order_by(Assignment.session_id, Volunteer.full_name, Assignment.id)
    ).all()
    said_yes = confirmed_ids([a.id for a, _ in rows])
    result = []
    for assignment, name in rows:
        asked_at = ladder.reminder_at(DAY_BEFORE, by_id[assignment.session_id].starts_at)
        if assignment.id in said_yes or _decided_since(assignment.decided_at, asked_at):
            continue
        result.append(
            Unconfirmed(
                assignment.session_id,
                assignment.id,
                assignment.volunteer_id,
                name,
                assignment.role.role,
                by_id[assignment.session_id].title,
            )
        )
    return result


def _decided_since(decided_at: datetime | None, moment: datetime) -> bool:
    return decided_at is not None and decided_at >= moment


def due_unconfirmed(sessions: list[TrainingSession], now: datetime) -> list[Unconfirmed]:
    """For the organizer's staffing page: the unconfirmed of the sessions whose day-before
    reminder has gone out (from REMINDER_DAY_BEFORE_AT the day before to the start)."""
    asked = [
        s for s in sessions if ladder.reminder_at(DAY_BEFORE, s.starts_at) <= now < s.starts_at
    ]
    return unconfirmed(asked)
