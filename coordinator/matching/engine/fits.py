"""Sessions that fit one volunteer: what a volunteer may sign up for, by the matcher's
own rules (skills, free time, near enough, no clash with their bookings, the weekly
limit). Seats are not looked at: a full role still fits (its sign-up waits)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.problem import Problem


@dataclass(frozen=True, slots=True)
class Fit:
    session_id: int
    role_ids: tuple[int, ...]  # the session's roles the volunteer may take, by role id
    distance: int  # ward steps from home: 0 the same ward, 1 a neighbour, 2 two away


def sessions_that_fit(problem: Problem, volunteer_id: int) -> list[Fit]:
    """The sessions with roles in `problem.roles` (others only give the volunteer's
    bookings their times) where the volunteer may take a role: the session does not
    clash with a session they are booked on (`problem.bookings`, fixed or not) or fill
    their week, and the role's skills, their free time and the distance allow it.
    In order of start, then session id. Nothing for a volunteer not in the problem."""
    me = next((v for v in problem.volunteers if v.id == volunteer_id), None)
    if me is None:
        return []
    rules = Rules(replace(problem, volunteers=[me]))
    mine = [rules.session[b.session_id] for b in problem.bookings if b.volunteer_id == me.id]
    roles_of: dict[int, list[int]] = {}
    for role in sorted(problem.roles, key=lambda r: r.id):
        roles_of.setdefault(role.session_id, []).append(role.id)
    fits = []
    for session in sorted(problem.sessions, key=lambda s: (s.start, s.id)):
        if session.id not in roles_of:
            continue
        if any(rules.conflict(session, other) for other in mine):
            continue
        if sum(1 for other in mine if other.week == session.week) >= me.max_per_week:
            continue
        role_ids = tuple(r for r in roles_of[session.id] if rules.eligible(me, rules.role[r]))
        distance = rules.distance(me, session)
        if role_ids and distance is not None:
            fits.append(Fit(session.id, role_ids, distance))
    return fits
