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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from coordinator.matching.engine.problem import Role, Session
from coordinator.matching.engine.state import Option, WorkingPlan

MOVE_CANDIDATES = 30  # proposed volunteers considered for a move, cheapest first
# Shorter candidate lists are scanned in Python; longer ones are first filtered with
# numpy (the first repair touching a role then builds no list of its hundreds).
SCAN_BELOW = 64


class Change(NamedTuple):
    op: str  # "leave", "add", "move" (to role_id) or "remove"
    volunteer_id: int
    role_id: int


class Taker(NamedTuple):
    """The cheapest volunteer who fits a seat as the plan stands."""

    marginal_cost: int  # the pair cost plus the load this seat adds
    volunteer_id: int
    pair_cost: int


class Move(NamedTuple):
    """A proposed volunteer moves from `held` to the free seat; `refill` takes the seat
    they leave (None: it stays empty)."""

    mover: int
    held: Role
    pair_cost: int  # the mover's pair cost in the free seat
    refill: Taker | None


class Choice(NamedTuple):
    change: int  # what it does to the objective (below 0: better than the empty seat)
    option: Taker | Move


@dataclass
class Repair:
    changes: list[Change] = field(default_factory=list)

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
    repair = Repair([Change("leave", volunteer_id, role_id)])
    if (volunteer_id, role_id) in plan.proposals:
        plan.remove(volunteer_id, role)
    elif (volunteer_id, session.id) in plan.fixed:
        plan.release_fixed(volunteer_id, session, role)
    plan.refused.add((volunteer_id, session.id))
    fill(plan, role, repair)
    drop_uncovered(plan, session, repair)
    return repair


def drop_uncovered(plan: WorkingPlan, session: Session, repair: Repair) -> None:
    """Nobody left covers a need of the session's participants: no proposals there."""
    rules = plan.rules
    if session.needs and plan.missing_needs(session):
        for other, other_role in sorted(plan.proposals):
            if rules.role[other_role].session_id == session.id:
                plan.remove(other, rules.role[other_role])
                repair.changes.append(Change("remove", other, other_role))


def fill(plan: WorkingPlan, role: Role, repair: Repair) -> None:
    """Give one free seat of `role` its cheapest taker, directly or by one move."""
    if plan.free_seats(role) <= 0:
        return
    rules = plan.rules
    session = rules.session[role.session_id]
    j = plan.role_index[role.id]
    missing = plan.missing_needs(session)
    direct = best_free(plan, j, session, missing)
    best = None
    if direct is not None:
        best = Choice(direct.marginal_cost - rules.seat_cost(role), direct)
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
            unfilled = rules.seat_cost(role)
            if best is not None and gain - unfilled >= best.change:
                continue  # a refill costs at least 0: this move cannot win
            refill = None
            if not covering:
                refill = best_free(plan, plan.role_index[held.id], there, frozenset(), mover)
            left_empty = rules.seat_cost(held)
            if refill is not None and refill.marginal_cost < left_empty:
                delta = gain + refill.marginal_cost - unfilled
            else:  # their seat stays empty: worth it where it counts less
                refill, delta = None, gain + left_empty - unfilled
            if best is None or delta < best.change:
                best = Choice(delta, Move(mover, held, pair_cost, refill))
    if best is None or best.change >= 0:
        return
    choice = best.option
    if isinstance(choice, Taker):
        plan.add(choice.volunteer_id, role, choice.pair_cost)
        repair.changes.append(Change("add", choice.volunteer_id, role.id))
        return
    plan.remove(choice.mover, choice.held)
    plan.add(choice.mover, role, choice.pair_cost)
    repair.changes.append(Change("move", choice.mover, role.id))
    refill = choice.refill
    if refill is not None:
        plan.add(refill.volunteer_id, choice.held, refill.pair_cost)
        repair.changes.append(Change("add", refill.volunteer_id, choice.held.id))


def _with_proposals(plan: WorkingPlan, j: int) -> Iterable[Option]:
    """(pair cost, volunteer id) of the role's candidates who hold proposals, cheapest
    first: the only ones who can move (read from arrays, not the whole list)."""
    lo, hi = plan.c_start[j], plan.c_start[j + 1]
    if hi - lo <= SCAN_BELOW:
        return [(cost, v) for cost, v in plan.candidates(j) if plan.held[v]]
    at = lo + np.flatnonzero(plan.held_at[plan.c_index[lo:hi]] > 0)
    return zip(plan.c_cost[at].tolist(), plan.c_vol[at].tolist(), strict=True)


def best_free(
    plan: WorkingPlan,
    j: int,
    session: Session,
    missing: frozenset[str],
    besides: int | None = None,
) -> Taker | None:
    """The cheapest volunteer who fits role index `j` as is.

    Candidates come by pair cost. On long lists, the first acceptable one with nothing
    booked surely fits at just its pair cost; before it, only those whose pair cost plus
    load could still match it are checked one by one (read from arrays, not the list)."""
    lo, hi = plan.c_start[j], plan.c_start[j + 1]
    load: npt.NDArray[np.int64] = (
        plan.load_at[plan.c_index[lo:hi]] if hi - lo > SCAN_BELOW else np.zeros(0, np.int64)
    )
    idle = None
    for at in np.flatnonzero(load == 0).tolist():
        volunteer_id = int(plan.c_vol[lo + at])
        if _acceptable(plan, volunteer_id, session, missing, besides):
            pair_cost = int(plan.c_cost[lo + at])
            idle = Taker(pair_cost, volunteer_id, pair_cost)
            break
    options: Iterable[Option]
    if idle is None:  # a short list, or everyone has bookings: scan the cached list
        options = plan.candidates(j)
    else:  # an earlier candidate wins a tie, as in a scan in order
        with_load = plan.c_cost[lo : lo + at] + plan.rules.weights.load * load[:at]
        check = lo + np.flatnonzero(with_load <= idle.marginal_cost)
        options = zip(plan.c_cost[check].tolist(), plan.c_vol[check].tolist(), strict=True)
    best = None
    for pair_cost, volunteer_id in options:
        if best is not None and pair_cost >= best.marginal_cost:
            break
        if not _acceptable(plan, volunteer_id, session, missing, besides):
            continue
        if plan.fits(volunteer_id, session):
            extra = plan.marginal_cost(pair_cost, volunteer_id)
            if best is None or extra < best.marginal_cost:
                best = Taker(extra, volunteer_id, pair_cost)
    if idle is not None and (best is None or idle.marginal_cost < best.marginal_cost):
        return idle
    return best


def _acceptable(
    plan: WorkingPlan,
    volunteer_id: int,
    session: Session,
    missing: frozenset[str],
    besides: int | None,
) -> bool:
    """Not the one moving away, not refused here, and covering a missing need if any."""
    if volunteer_id == besides or (volunteer_id, session.id) in plan.refused:
        return False
    return not missing or bool(missing & plan.rules.volunteer[volunteer_id].accessibility)
