"""Who may take which role when: skills, expert leads, time conflicts with travel, and
the weekly limit. Reads only; the operations decide what to write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.geography.operations import neighbors_of
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, TrainingSession

# Bookings that hold a seat and occupy the volunteer's time.
SEAT_HOLDING = ("confirmed", "proposed")


@dataclass(frozen=True)
class Refusal:
    """Why a volunteer cannot take a role: an error code and a sentence in vi / en."""

    code: str
    message: str


def role_refusal(volunteer: Volunteer, role: SessionRole) -> Refusal | None:
    """Skills the role requires; a lead must be an expert; an interpreter must sign."""
    missing = sorted(set(role.required_skills) - set(volunteer.skills))
    if missing:
        return Refusal(
            "missing_skills",
            f"Thiếu kỹ năng / Missing skills for '{role.role}': {', '.join(missing)}",
        )
    if role.role == "lead" and not volunteer.is_expert:
        return Refusal(
            "not_expert", "Vai trò chính cần chuyên gia / The lead role needs an expert."
        )
    if role.role == "interpreter" and "sign_language" not in volunteer.accessibility_skills:
        return Refusal(
            "missing_skills",
            "Phiên dịch cần ngôn ngữ ký hiệu / An interpreter must know sign language.",
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
            TrainingSession.status != "cancelled",
            TrainingSession.id != session.id,
            TrainingSession.starts_at < session.ends_at + gap,
            TrainingSession.ends_at > session.starts_at - gap,
        )
    ).all()
    near = neighbors_of(session.ward) | {session.ward} if others else set()
    for other in others:
        overlaps = other.starts_at < session.ends_at and other.ends_at > session.starts_at
        if overlaps or other.ward not in near:
            why = (
                "trùng giờ / overlaps"
                if overlaps
                else "không đủ thời gian di chuyển / no time to travel"
            )
            return Refusal(
                "time_conflict",
                f"Xung đột với buổi #{other.id} '{other.title}' ({why}).",
            )
    week_start, week_end = _week_bounds(session.starts_at)
    booked = db.session.scalar(
        sa.select(sa.func.count(Assignment.id))
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != "cancelled",
            TrainingSession.id != session.id,
            TrainingSession.starts_at >= week_start,
            TrainingSession.starts_at < week_end,
        )
    )
    if booked >= volunteer.max_sessions_per_week:
        return Refusal(
            "weekly_limit",
            f"Đã đủ {volunteer.max_sessions_per_week} buổi trong tuần / "
            f"Already {booked} sessions that week (limit {volunteer.max_sessions_per_week}).",
        )
    return None
