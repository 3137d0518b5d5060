"""Repairing a plan after one person leaves a seat, changing as few plans as possible.

The freed seat goes to the cheapest of: a volunteer who is free (one person touched), or
a proposed volunteer moved from another seat that a free volunteer then takes (two
people touched), or that stays empty when it counts for less (a session of lower
priority: one person touched). Confirmed bookings never move: only proposals are
candidates to move.
When the session's participants need a competence nobody left covers, the replacement
must cover it; if nobody can, the session's proposals are withdrawn (staffing it without
the competence would break a hard rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from coordinator.matching.engine.state import WorkingPlan

MOVE_CANDIDATES = 30  # proposed volunteers considered for a move, cheapest first
# Shorter candidate lists are scanned in Python; longer ones are first filtered with
# numpy (the first repair touching a role then builds no list of its hundreds).
SCAN_BELOW = 64


@dataclass
class Repair:
    changes: list[tuple[str, int, int]] = field(default_factory=list)  # (op, volunteer, role)

    @property
    def touched(self) -> set[int]:
        """Volunteers other than the one leaving whose plan changed."""
        return {volunteer for op, volunteer, _ in self.changes if op != "leave"}


def withdraw(plan: WorkingPlan, volunteer_id: int, role_id: int) -> Repair:
    """`volunteer_id` leaves role `role_id` (a proposal declined, or a confirmed booking
    withdrawn) and will not be proposed there again."""
    rules = plan.rules
    role = rules.role[role_id]
    session = rules.session[role.session_id]
    repair = Repair([("leave", volunteer_id, role_id)])
    if (volunteer_id, role_id) in plan.proposals:
        plan.remove(volunteer_id, role)
    elif (volunteer_id, session.id) in plan.fixed:
        plan.release_fixed(volunteer_id, session, role)
    plan.refused.add((volunteer_id, session.id))
    fill(plan, role, repair)
    drop_uncovered(plan, session, repair)
    return repair


def drop_uncovered(plan: WorkingPlan, session, repair: Repair) -> None:
    """Nobody left covers a need of the session's participants: no proposals there."""
    rules = plan.rules
    if session.needs and plan.missing_needs(session):
        for other, other_role in sorted(plan.proposals):
            if rules.role[other_role].session_id == session.id:
                plan.remove(other, rules.role[other_role])
                repair.changes.append(("remove", other, other_role))


def fill(plan: WorkingPlan, role, repair: Repair) -> None:
    """Give one free seat of `role` its cheapest taker, directly or by one move."""
    rules = plan.rules
    session = rules.session[role.session_id]
    j = plan.role_index[role.id]
    missing = plan.missing_needs(session)
    direct = best_free(plan, j, session, missing)
    best = (direct[0] - rules.unfilled_cost(session.id), direct) if direct else None
    moves = 0
    for pair_cost, mover in _with_proposals(plan, j):
        if moves >= MOVE_CANDIDATES:
            break
        if (mover, session.id) in plan.refused:
            continue
        if missing and not missing & rules.volunteer[mover].accessibility:
            continue
        for held_role_id in plan.held[mover]:
            held = rules.role[held_role_id]
            there = rules.session[held.session_id]
            if there.id == session.id or not plan.fits(mover, session, ignoring=there):
                continue
            # A mover who covers a need there leaves only if nobody is left to need it
            # (their seat then stays empty).
            covering = there.needs and plan.missing_needs(there, without=mover)
            if covering and plan.staff[there.id] != {mover}:
                continue
            moves += 1
            gain = pair_cost - plan.proposals[(mover, held.id)]
            unfilled = rules.unfilled_cost(session.id)
            if best is not None and gain - unfilled >= best[0]:
                continue  # a refill costs at least 0: this move cannot win
            refill = None
            if not covering:
                refill = best_free(plan, plan.role_index[held.id], there, frozenset(), mover)
            left_empty = rules.unfilled_cost(there.id)
            if refill is not None and refill[0] < left_empty:
                delta = gain + refill[0] - unfilled
            else:  # their seat stays empty: worth it where it counts less
                refill, delta = None, gain + left_empty - unfilled
            if best is None or delta < best[0]:
                best = (delta, (mover, held, pair_cost, refill))
    if best is None or best[0] >= 0:
        return
    choice = best[1]
    if len(choice) == 3:
        _, volunteer_id, cost = choice
        plan.add(volunteer_id, role, cost)
        repair.changes.append(("add", volunteer_id, role.id))
        return
    mover, held, pair_cost, refill = choice
    plan.remove(mover, held)
    plan.add(mover, role, pair_cost)
    repair.changes.append(("move", mover, role.id))
    if refill is not None:
        _, volunteer_id, cost = refill
        plan.add(volunteer_id, held, cost)
        repair.changes.append(("add", volunteer_id, held.id))


def _with_proposals(plan: WorkingPlan, j: int):
    """(pair cost, volunteer id) of the role's candidates who hold proposals, cheapest
    first: the only ones who can move (read from arrays, not the whole list)."""
    lo, hi = plan.c_start[j], plan.c_start[j + 1]
    if hi - lo <= SCAN_BELOW:
        return [(cost, v) for cost, v in plan.candidates(j) if plan.held[v]]
    at = lo + np.flatnonzero(plan.held_at[plan.c_index[lo:hi]] > 0)
    return zip(plan.c_cost[at].tolist(), plan.c_vol[at].tolist(), strict=True)


def best_free(
    plan: WorkingPlan, j: int, session, missing, besides: int | None = None
) -> tuple[int, int, int] | None:
    """(marginal cost, volunteer, pair cost) of the cheapest volunteer who fits as is.

    Candidates come by pair cost. On long lists, the first acceptable one with nothing
    booked surely fits at just its pair cost; before it, only those whose pair cost plus
    load could still match it are checked one by one (read from arrays, not the list)."""
    lo, hi = plan.c_start[j], plan.c_start[j + 1]
    load = plan.load_at[plan.c_index[lo:hi]] if hi - lo > SCAN_BELOW else np.zeros(0)
    idle = None
    for at in np.flatnonzero(load == 0).tolist():
        volunteer_id = int(plan.c_vol[lo + at])
        if _acceptable(plan, volunteer_id, session, missing, besides):
            pair_cost = int(plan.c_cost[lo + at])
            idle = (pair_cost, volunteer_id, pair_cost)
            break
    if idle is None:  # a short list, or everyone has bookings: scan the cached list
        options = plan.candidates(j)
    else:  # an earlier candidate wins a tie, as in a scan in order
        extra = plan.c_cost[lo : lo + at] + plan.rules.weights.load * load[:at]
        check = lo + np.flatnonzero(extra <= idle[0])
        options = zip(plan.c_cost[check].tolist(), plan.c_vol[check].tolist(), strict=True)
    best = None
    for pair_cost, volunteer_id in options:
        if best is not None and pair_cost >= best[0]:
            break
        if not _acceptable(plan, volunteer_id, session, missing, besides):
            continue
        if plan.fits(volunteer_id, session):
            extra = plan.marginal_cost(pair_cost, volunteer_id)
            if best is None or extra < best[0]:
                best = (extra, volunteer_id, pair_cost)
    if idle is not None and (best is None or idle[0] < best[0]):
        return idle
    return best


def _acceptable(plan: WorkingPlan, volunteer_id: int, session, missing, besides) -> bool:
    """Not the one moving away, not refused here, and covering a missing need if any."""
    if volunteer_id == besides or (volunteer_id, session.id) in plan.refused:
        return False
    return not missing or bool(missing & plan.rules.volunteer[volunteer_id].accessibility)
