"""A part of a plan solved exactly: some volunteers' proposals in some sessions are
re-decided by CP-SAT (OR-tools) with everything else held as it is.

The part is a small integer programme with the model's every rule and cost: seats,
clashes and weekly limits (counting what the volunteers hold outside the part),
participants' needs (a session staffed only with its needs covered), the fair load and
the empty seats. The finishing steps before it move one volunteer, or a chain of them,
at a time; a part solved exactly finds the exchanges no chain reaches (experts at their
weekly limits, where a lead seat is filled only by several experts changing sessions
at once).
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable, Set

import numpy as np
from ortools.sat.python import cp_model

from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.problem import SCALE, Session
from coordinator.matching.engine.state import WorkingPlan

# CP-SAT's deterministic time per part (about seconds of one core on this machine's
# kind of CPU): parts are small, most are proven optimal far sooner.
PART_TIME = 0.5
# The parts' LP is nearly integral (seats, at most one of clashing sessions): a full
# linearisation proves them at the root, where the default presolve took up to 20 times
# as long on some (the wards family); probing and symmetry cost more than they save.
SAT_PARAMETERS = {"linearization_level": 2, "cp_model_probing_level": 0, "symmetry_level": 0}


def reoptimise(
    plan: WorkingPlan,
    volunteers: Iterable[int],
    sessions: Iterable[int],
    time_limit: float = PART_TIME,
) -> int:
    """Re-decides the proposals of `volunteers` in `sessions` (volunteer and session ids)
    exactly, the rest of the plan held; applies the result when it lowers the
    objective. Returns the objective's change (0 when nothing better was found)."""
    rules = plan.rules
    vols = sorted(set(volunteers))
    part = sorted(set(sessions))
    in_part = set(part)
    inside = set(vols)
    gap = rules.problem.travel_gap
    earlier = {(b.volunteer_id, b.role_id) for b in rules.problem.bookings if not b.fixed}
    keep_bonus = rules.weights.keep_bonus
    model = cp_model.CpModel()
    # The part's current proposals (they are free to change) and, per role, the seats
    # held by proposals outside it.
    current = [
        (v, r) for v in vols for r in sorted(plan.held[v]) if rules.role[r].session_id in in_part
    ]
    held_in: dict[int, int] = defaultdict(int)
    for _, r in current:
        held_in[r] += 1
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    cost_of: dict[tuple[int, int], int] = {}
    # Per volunteer: (session, role id, pair cost) of their candidate pairs in the part.
    by_vol: dict[int, list[tuple[Session, int, int]]] = defaultdict(list)
    room: dict[int, int] = {}
    seat_cost: dict[int, int] = {}
    member = np.zeros(len(plan.vols), dtype=bool)
    member[[plan.vol_index[v] for v in vols]] = True
    for session_id in part:
        session = rules.session[session_id]
        for j in plan.roles_of[session_id]:
            role = plan.roles[j]
            free = plan.free_seats(role) + held_in[role.id]
            if free <= 0:
                continue
            room[role.id] = free
            seat_cost[role.id] = rules.seat_cost(role)
            lo, hi = plan.c_start[j], plan.c_start[j + 1]
            at = lo + np.flatnonzero(member[plan.c_index[lo:hi]])
            for v, cost in zip(plan.c_vol[at].tolist(), plan.c_cost[at].tolist(), strict=True):
                if (v, session_id) not in plan.refused:
                    by_vol[v].append((session, role.id, cost))
    objective = []
    staffed_by: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    # Per volunteer: what they hold outside the part decides what they may take in it.
    for v in vols:
        mine = {r for (w, r) in current if w == v}
        outside = [s for s in plan.busy[v] if not _held_in_part(plan, v, s, mine)]
        limit = rules.volunteer[v].max_per_week
        week_used: dict[int, int] = defaultdict(int)
        for s in outside:
            week_used[s.week] += 1
        options = [
            (s, r, cost)
            for s, r, cost in by_vol[v]
            if week_used[s.week] < limit and not any(rules.conflict(s, o) for o in outside)
        ]
        if not options and not mine:
            continue
        units = []
        for s, r, cost in options:
            var = model.new_bool_var(f"x{v}_{r}")
            x[(v, r)] = var
            cost_of[(v, r)] = cost
            units.append((s, var))
            # In 1/SCALE points: an earlier proposal keeps its tie-break bonus, as in
            # the flow, so a re-plan moves nobody for nothing.
            bonus = keep_bonus if (v, r) in earlier else 0
            objective.append(var * ((cost - seat_cost[r]) * SCALE - bonus))
            staffed_by[s.id].append((v, var))
        _no_clashes(model, rules, units, gap)
        weeks: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for s, var in units:
            weeks[s.week].append(var)
        for week, taken in weeks.items():
            if len(taken) > limit - week_used[week]:
                model.add(sum(taken) <= limit - week_used[week])
        # The fair load, convex in the volunteer's number of sessions: the k-th of
        # their sessions in the part is one more step, each step dearer than the last.
        base = plan.load[v] - len(mine)
        most = min(len(units), sum(max(limit - week_used[w], 0) for w in weeks))
        if most > 1 or (most == 1 and base > 0):
            steps = [model.new_bool_var(f"k{v}_{k}") for k in range(most)]
            for lower, higher in zip(steps, steps[1:], strict=False):
                model.add_implication(higher, lower)
            model.add(sum(steps) == sum(var for _, var in units))
            for n, step in enumerate(steps):
                objective.append(step * rules.load_cost(base + n + 1) * SCALE)
    if not x:
        return 0
    by_role: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (_v, r), var in x.items():
        by_role[r].append(var)
    for r, takers in by_role.items():
        if len(takers) > room[r]:
            model.add(sum(takers) <= room[r])
    # Needs: a session with any proposal has every need covered.
    for session_id, staff in staffed_by.items():
        session = rules.session[session_id]
        if not session.needs:
            continue
        held: set[str] = set()
        others = False
        for w in plan.staff[session_id]:
            if (w, session_id) in plan.fixed or w not in inside:
                held |= rules.volunteer[w].accessibility
                others = others or (w, session_id) not in plan.fixed
        open_needs = session.needs - held
        if not open_needs:
            continue
        staffed = model.new_bool_var(f"s{session_id}")
        if others:
            model.add(staffed == 1)
        for _v, var in staff:
            model.add(var <= staffed)
        for need in sorted(open_needs):
            coverers = [var for v, var in staff if need in rules.volunteer[v].accessibility]
            model.add(sum(coverers) >= staffed)
    model.minimize(sum(objective))
    for (v, r), var in x.items():
        model.add_hint(var, (v, r) in plan.proposals)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = time_limit
    solver.parameters.random_seed = 1
    for key, value in SAT_PARAMETERS.items():
        setattr(solver.parameters, key, value)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0
    chosen = sorted(key for key, var in x.items() if solver.boolean_value(var))
    if set(chosen) == set(current):
        return 0
    plan.begin()
    for v, r in current:
        plan.remove(v, rules.role[r])
    for v, r in chosen:
        plan.add(v, rules.role[r], cost_of[(v, r)])
    change = plan.change
    if change < 0:
        plan.commit()
        return change
    plan.rollback()
    return 0


def _no_clashes(
    model: cp_model.CpModel,
    rules: Rules,
    units: list[tuple[Session, cp_model.IntVar]],
    gap: int,
) -> None:
    """At most one of a volunteer's sessions that clash: one row per session for those
    running when it starts (overlaps, a session's roles among them), and pairs for the
    travel-only clashes (`Rules.conflict`), which only sessions less than `gap` apart
    can have."""
    units = sorted(units, key=lambda unit: unit[0].start)
    for b, (session, var) in enumerate(units):
        running = [other for s, other in units[:b] if s.end > session.start]
        if running:
            model.add_at_most_one([*running, var])
        for s, other in units[:b]:
            if s.end <= session.start < s.end + gap and rules.conflict(s, session):
                model.add(var + other <= 1)


def _held_in_part(plan: WorkingPlan, v: int, session: Session, mine: set[int]) -> bool:
    """Is `session` (in the volunteer's busy list) one of their proposals in the part?"""
    if (v, session.id) in plan.fixed:
        return False
    return any(plan.rules.role[r].session_id == session.id for r in mine)


# A part per week: volunteers at most, and candidates taken per role reached (cheapest
# first; the coverers of a session's needs besides); rounds while one improves.
PART_VOLUNTEERS = 250
PART_PER_ROLE = 20
PART_ROUNDS = 2
# How many places down a candidate list one more move counts (see part_around).
PART_DEPTH = 5


def improve_by_parts(plan: WorkingPlan, closed: Set[int] = frozenset()) -> int:
    """Week by week, the part of the plan around the week's empty seats (of sessions
    not `closed`, see `part_around`) solved exactly (`reoptimise`); again while a round
    improves (the weeks that improved), up to PART_ROUNDS. Returns the objective's change."""
    rules = plan.rules
    total = 0
    weeks = sorted({s.week for s in plan.sessions})
    for _round in range(PART_ROUNDS):
        changed = 0
        improved: list[int] = []  # only these weeks are looked at again
        open_by_week: dict[int, list[int]] = defaultdict(list)
        for j, role in enumerate(plan.roles):
            if plan.free_seats(role) > 0 and role.session_id not in closed:
                open_by_week[rules.session[role.session_id].week].append(j)
        for week in weeks:
            open_roles = open_by_week[week]
            if not open_roles:
                continue
            # The scarcest seats first: dearest, then fewest candidates.
            open_roles.sort(
                key=lambda j: (
                    -rules.seat_cost(plan.roles[j]),
                    plan.c_start[j + 1] - plan.c_start[j],
                    plan.roles[j].id,
                )
            )
            volunteers, sessions = part_around(plan, open_roles, closed)
            change = reoptimise(plan, volunteers, sessions) if volunteers else 0
            if change:
                changed += change
                improved.append(week)
        total += changed
        weeks = improved
        if not weeks:
            break
    return total


def part_around(plan: WorkingPlan, seeds: list[int], closed: Set[int]) -> tuple[set[int], set[int]]:
    """The volunteers and sessions of a part around the empty seats of role indices
    `seeds` (of one week), best first: each role reached lists its candidates, cheapest
    first (and the coverers of its session's needs); the next volunteer taken in is the
    one earliest in such a list, a role reached through more moves counting as
    PART_DEPTH places further down. A volunteer taken in brings the roles they hold that
    week (their candidates may take over the seat they leave) and, where they cover a
    need there, the whole staff of that session (they may all have to go) and its other
    roles (someone else may cover it instead); until PART_VOLUNTEERS."""
    rules = plan.rules
    starts = list(dict.fromkeys(plan.roles[k].session_id for k in seeds))  # in seeds' order
    week = rules.session[starts[0]].week
    volunteers: set[int] = set()
    sessions: set[int] = set(starts)
    # (priority, tie-break, depth, list, rank): the rank-th volunteer of lists[list]
    heap: list[tuple[int, int, int, int, int]] = []
    lists: list[tuple[list[tuple[int, int]], int]] = []  # (candidates, their session id)
    seen_roles: set[int] = set()
    ties = itertools.count()

    def reach(k: int, depth: int) -> None:
        if k in seen_roles:
            return
        seen_roles.add(k)
        session_id = plan.roles[k].session_id
        options = [plan.candidates(k)]
        options += [plan.coverers(k, need) for need in sorted(rules.session[session_id].needs)]
        for found in options:
            if found:
                lists.append((found, session_id))
                heapq.heappush(heap, (depth * PART_DEPTH, next(ties), depth, len(lists) - 1, 0))

    for s in starts:
        for k in plan.roles_of[s]:
            reach(k, 0)
    while heap and len(volunteers) < PART_VOLUNTEERS:
        _priority, _order, depth, at, rank = heapq.heappop(heap)
        found, session_id = lists[at]
        if rank + 1 < min(len(found), PART_PER_ROLE):
            priority = depth * PART_DEPTH + rank + 1
            heapq.heappush(heap, (priority, next(ties), depth, at, rank + 1))
        v = found[rank][1]
        if v in volunteers or (v, session_id) in plan.refused:
            continue
        volunteers.add(v)
        for r in sorted(plan.held[v]):
            there = rules.session[rules.role[r].session_id]
            if there.week != week:
                continue
            sessions.add(there.id)
            reach(plan.role_index[r], depth + 1)
            if there.needs and there.needs & rules.volunteer[v].accessibility:
                volunteers.update(other for other, _r in plan.proposed_in(there.id))
                for k in plan.roles_of[there.id]:
                    reach(k, depth + 1)
    return volunteers, sessions - set(closed)
