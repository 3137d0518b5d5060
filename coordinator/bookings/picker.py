"""The organizer's assignment picker: every active volunteer with what matters for this
session (expert, free at that hour, a clash, already booked here), eligible people
first. The same rules as an assignment (`rules`), read for everyone in a few queries."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from coordinator.bookings.models import LIVE_ASSIGNMENT, SEAT_HOLDING, Assignment
from coordinator.bookings.rules import availability_refusal, travel_gap
from coordinator.extensions import db
from coordinator.geography.operations import neighbors_of
from coordinator.people.models import Volunteer
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.text import vietnamese_name_key


@dataclass(frozen=True)
class Candidate:
    volunteer: Volunteer
    expert: bool
    available: bool  # within their weekly availability (else: a warning step)
    clash: bool  # another booking overlaps, or leaves no time to travel (never allowed)
    booked_here: bool

    @property
    def eligible(self) -> bool:
        return self.available and not self.clash and not self.booked_here

    @property
    def group(self) -> str:
        """eligible; outside (their availability: the organizer confirms); blocked."""
        if self.clash or self.booked_here:
            return "blocked"
        return "eligible" if self.available else "outside"


def _clashing(session: TrainingSession) -> set[int]:
    """Volunteers whose seat-holding bookings elsewhere overlap the session, or end or
    start too close to it for travel between wards that are not neighbours."""
    gap = travel_gap()
    rows = db.session.execute(
        sa.select(
            Assignment.volunteer_id,
            TrainingSession.ward,
            TrainingSession.starts_at,
            TrainingSession.ends_at,
        )
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.id != session.id,
            TrainingSession.starts_at < session.ends_at + gap,
            TrainingSession.ends_at > session.starts_at - gap,
        )
    ).all()
    near = neighbors_of(session.ward) | {session.ward} if rows else set()
    return {
        volunteer_id
        for volunteer_id, ward, starts, ends in rows
        if (starts < session.ends_at and ends > session.starts_at) or ward not in near
    }


def candidates(session: TrainingSession) -> list[Candidate]:
    """Active volunteers for the picker: eligible first (experts first among them), then
    those outside their availability, then those who cannot be booked; by name within."""
    volunteers = db.session.scalars(
        sa.select(Volunteer)
        .where(Volunteer.active.is_(True))
        .options(selectinload(Volunteer.availability))
    ).all()
    clashing = _clashing(session)
    here = set(
        db.session.scalars(
            sa.select(Assignment.volunteer_id).where(
                Assignment.session_id == session.id, Assignment.status.in_(LIVE_ASSIGNMENT)
            )
        )
    )
    found = [
        Candidate(
            volunteer=v,
            expert=v.is_expert,
            available=availability_refusal(v, session) is None,
            clash=v.id in clashing,
            booked_here=v.id in here,
        )
        for v in volunteers
    ]
    return sorted(
        found,
        key=lambda c: (
            ("eligible", "outside", "blocked").index(c.group),
            not c.expert,
            vietnamese_name_key(c.volunteer.full_name),
        ),
    )
