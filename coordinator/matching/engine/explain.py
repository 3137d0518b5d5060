"""Reasons as codes: why each proposal, and why a seat stays empty.

The engine knows no language (nor Flask): a reason is a code with its values,
"distance|0", "free|1|18:00-20:00", "week|2", and `coordinator.matching.reasons` reads it
in the reader's language where it is shown."""

from __future__ import annotations

from coordinator.matching.engine.problem import (
    DAY,
    EXPERT_ROLES,
    Plan,
    Proposal,
    Role,
    Unfilled,
)
from coordinator.matching.engine.state import WorkingPlan

SEPARATOR = "|"


def reason(code: str, *values: object) -> str:
    """A reason's code and values as one string, as runs and bookings store it."""
    return SEPARATOR.join((code, *(str(value) for value in values)))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def proposal_reasons(plan: WorkingPlan, volunteer_id: int, role: Role) -> tuple[str, ...]:
    rules = plan.rules
    volunteer, session = rules.volunteer[volunteer_id], rules.session[role.session_id]
    reasons = [reason("need", need) for need in sorted(session.needs & volunteer.accessibility)]
    if role.name in EXPERT_ROLES:
        reasons.append(reason("expert"))
    distance = rules.distance(volunteer, session)
    reasons.append(reason("distance", distance if distance in (0, 1) else "far"))
    for start, end in volunteer.spans:
        begin = session.weekday * DAY + session.local_start
        if start <= begin and session.weekday * DAY + session.local_end <= end:
            weekday = (start // DAY) % 7  # 0: Monday
            span = f"{_hhmm(start % DAY)}-{_hhmm(end % DAY if end % DAY else DAY)}"
            into_next_day = end - start // DAY * DAY > DAY
            reasons.append(reason("free_next_day" if into_next_day else "free", weekday, span))
            break
    week = sum(1 for s in plan.busy[volunteer_id] if s.week == session.week)
    reasons.append(reason("week", week))
    if session.series_people and volunteer_id in session.series_people:
        reasons.append(reason("series"))
    if session.squads & volunteer.squads:
        reasons.append(reason("squad"))
    if volunteer.preferred_topics and session.topic in volunteer.preferred_topics:
        reasons.append(reason("topic"))
    return tuple(reasons)


def unfilled_reasons(plan: WorkingPlan, role_index: int) -> tuple[str, ...]:
    rules = plan.rules
    role = plan.roles[role_index]
    session = rules.session[role.session_id]
    options = plan.candidates(role_index)
    if not options:
        return (reason("nobody"),)
    reasons = []
    missing = plan.missing_needs(session)
    if session.needs and (missing or not plan.staff[session.id]):
        reasons.append(reason("no_free_needs", ",".join(sorted(missing or session.needs))))
    here = sum(1 for _, v in options if v in plan.staff[session.id])
    reasons.append(reason("all_busy", len(options), here))
    return tuple(reasons)


def explain(plan: WorkingPlan) -> Plan:
    rules = plan.rules
    proposals = [
        Proposal(
            volunteer_id=volunteer_id,
            role_id=role_id,
            session_id=rules.role[role_id].session_id,
            cost=cost,
            reasons=proposal_reasons(plan, volunteer_id, rules.role[role_id]),
        )
        for (volunteer_id, role_id), cost in sorted(plan.proposals.items())
    ]
    unfilled = [
        Unfilled(
            role_id=role.id,
            session_id=role.session_id,
            seats=plan.free_seats(role),
            reasons=unfilled_reasons(plan, j),
        )
        for j, role in enumerate(plan.roles)
        if plan.free_seats(role) > 0
    ]
    objective = rules.objective(plan.pairs())
    return Plan(proposals=proposals, unfilled=unfilled, objective=objective)
