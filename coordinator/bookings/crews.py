"""Who a volunteer works with, for their schedule: per session, the confirmed crew (the
lead first) and, for the crew only, the support its participants asked for, in words
and without names. Reads only, a query per kind for all sessions at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, AssignmentStatus, Registration
from coordinator.extensions import db
from coordinator.people.models import ParticipantPrivate, Volunteer
from coordinator.sessions.models import SessionRole, TrainingSession
from coordinator.text import vietnamese_sort_key


@dataclass
class Crew:
    lead: str | None = None
    teammates: list[tuple[str, str]] = field(default_factory=list)  # (name, role code)
    needs: set[str] = field(default_factory=set)  # accessibility_skills codes


def crews(session_ids: Collection[int], volunteer_id: int) -> dict[int, Crew]:
    """Per session: its confirmed lead and the other confirmed volunteers (not the one
    asking), and the needs of the session and of its registered participants."""
    found: dict[int, Crew] = defaultdict(Crew)
    if not session_ids:
        return found
    rows = db.session.execute(
        sa.select(
            Assignment.session_id, Assignment.volunteer_id, SessionRole.role, Volunteer.full_name
        )
        .join(SessionRole, SessionRole.id == Assignment.role_id)
        .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
        .where(
            Assignment.session_id.in_(session_ids),
            Assignment.status == AssignmentStatus.CONFIRMED,
        )
    ).all()
    for session_id, who, role, name in sorted(rows, key=lambda r: vietnamese_sort_key(r[3])):
        crew = found[session_id]
        if role == "lead":
            crew.lead = name
        if who != volunteer_id and role != "lead":
            crew.teammates.append((name, role))
    for session_id, needs in db.session.execute(
        sa.select(TrainingSession.id, TrainingSession.participant_needs).where(
            TrainingSession.id.in_(session_ids)
        )
    ):
        found[session_id].needs.update(needs or [])
    for session_id, needs in db.session.execute(
        sa.select(Registration.session_id, ParticipantPrivate.accessibility_needs)
        .join(ParticipantPrivate, ParticipantPrivate.participant_id == Registration.participant_id)
        .where(Registration.session_id.in_(session_ids), Registration.status == "registered")
    ):
        found[session_id].needs.update(needs or [])
    return found
