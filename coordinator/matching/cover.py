"""Who may take a seat its volunteer cannot keep, best fit first, by the matcher's own
rules: the problem is read as a matching run reads it (`loader.load`), the seat is
given up by its volunteer, and each volunteer is judged by `engine.Rules`, one pair at a
time as `engine.fits` does (skills, sign language and other competences a role needs,
expert leads, free time, distance, no clash with their bookings counting travel, the
weekly limit, never someone who refused the session), and costed by it (distance,
preferences, load). Reads only."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from coordinator.bookings.models import LIVE_ASSIGNMENT, Assignment
from coordinator.extensions import db
from coordinator.matching import loader
from coordinator.matching.engine import Rules, Session
from coordinator.sessions.models import TrainingSession


def cover_candidates(assignment: Assignment, now: datetime) -> list[tuple[int, int]]:
    """(volunteer id, cost) of everyone who could take `assignment`'s seat, cheapest
    first (ties by id). The session's access needs stay covered at least as well as
    with the volunteer leaving."""
    session = db.session.get_one(TrainingSession, assignment.session_id)
    loaded = loader.load(
        session.starts_at, session.starts_at + timedelta(minutes=1), session.ward, now
    )
    problem = loaded.problem
    role = next((r for r in problem.roles if r.id == assignment.role_id), None)
    if role is None:  # the session is not open to matching (cancelled, started)
        return []
    leaving = assignment.volunteer_id
    # The seat as the one open seat of the problem; its volunteer's booking gone.
    problem.roles = [replace(role, seats=1)]
    problem.bookings = [
        b
        for b in problem.bookings
        if not (b.volunteer_id == leaving and b.session_id == session.id)
    ]
    problem.refused = problem.refused | {(leaving, session.id)}
    rules = Rules(problem)
    booked_here = set(
        db.session.scalars(
            sa.select(Assignment.volunteer_id).where(
                Assignment.session_id == session.id, Assignment.status.in_(LIVE_ASSIGNMENT)
            )
        )
    )
    target = rules.session[session.id]
    # Each volunteer's other bookings (as engine.fits reads them: any seat they hold).
    theirs: dict[int, list[Session]] = defaultdict(list)
    for booking in problem.bookings:
        theirs[booking.volunteer_id].append(rules.session[booking.session_id])
    staff = frozenset().union(
        *(
            rules.volunteer[b.volunteer_id].accessibility
            for b in problem.bookings
            if b.session_id == session.id and b.volunteer_id in rules.volunteer
        )
    )
    was = rules.volunteer.get(leaving)
    uncovered_before = target.needs - staff - (was.accessibility if was else frozenset())
    found = []
    for volunteer in problem.volunteers:
        if volunteer.id in booked_here or (volunteer.id, session.id) in problem.refused:
            continue
        if not rules.eligible(volunteer, role):  # skills, expert, signing, free, near
            continue
        others = theirs[volunteer.id]
        if any(rules.conflict(target, other) for other in others):  # overlap or travel
            continue
        if sum(1 for other in others if other.week == target.week) >= volunteer.max_per_week:
            continue
        if not (target.needs - staff - volunteer.accessibility) <= uncovered_before:
            continue
        cost = rules.pair_cost(volunteer, target) + rules.load_cost(len(others) + 1)
        found.append((cost, volunteer.id))
    return [(volunteer_id, cost) for cost, volunteer_id in sorted(found)]
