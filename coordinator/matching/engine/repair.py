"""Repairing a plan after one person leaves a seat, changing as few plans as possible.

The freed seat goes to the cheapest of: a volunteer who is free (one person touched), or
a proposed volunteer moved from another seat that a free volunteer then takes (two
people touched), or that stays empty when it counts for less (a session of lower
priority: one person touched). Confirmed bookings never move: only proposals are
candidates to move.
When the session's participants need a competence nobody left covers, the replacement
must cover it; failing that, a coverer takes any seat of the session, free or given up
by one of its proposals (two people touched at most); failing that, the session's other
proposals are withdrawn when they are no more than the repair may still touch, and
otherwise left to the debounced re-plan that follows every withdrawal (`uncovered`): it
sees the whole month, so it may still find a coverer, and withdrawing five proposals
here only for the re-plan to offer them again would churn volunteers' plans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from coordinator.matching.engine.problem import Role, Session
from coordinator.matching.engine.state import Option, WorkingPlan

TOUCH_LIMIT = 2  # people other than the one leaving whose plan a repair may change
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
    # Sessions left with a need nobody covers and more proposals than the repair could
    # withdraw within TOUCH_LIMIT: the re-plan decides for them.
    uncovered: set[int] = field(default_factory=set)

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
    restaff(plan, role, repair)
    return repair


def restaff(plan: WorkingPlan, role: Role, repair: Repair) -> None:
    """A seat of `role` was freed: fill it, then keep the session's needs covered."""
    fill(plan, role, repair)
    cover_or_drop(plan, plan.rules.session[role.session_id], repair)


def cover_or_drop(plan: WorkingPlan, session: Session, repair: Repair) -> None:
    """Nobody left covers a need of the session's participants: a coverer takes a seat
    there; else no proposals there if withdrawing them stays within TOUCH_LIMIT; else
    the session is left `uncovered` for the re-plan."""
    if not session.needs or not plan.missing_needs(session):
        return
    if len(repair.touched) + 2 <= TOUCH_LIMIT:
        swap_in_coverer(plan, session, repair)
        if not plan.missing_needs(session):
            return
    others = plan.proposed_in(session.id)
    if len(repair.touched | {v for v, _ in others}) > TOUCH_LIMIT:
        repair.uncovered.add(session.id)
        return
    for other, other_role in others:
        plan.remove(other, plan.rules.role[other_role])
        repair.changes.append(Change("remove", other, other_role))


def swap_in_coverer(plan: WorkingPlan, session: Session, repair: Repair) -> bool:
    """The cheapest way for one coverer to complete the session's needs: a free seat of
    any of its roles, or the seat of one of its proposals (who then has none there);
    the coverer is free, or moves from a seat nobody needs them in (which stays empty).
    At most two people touched; MOVE_CANDIDATES coverers per role and need."""
    rules = plan.rules
    missing = plan.missing_needs(session)
    best: tuple[int, int, Role, int | None, int, Role | None] | None = None
    for j in plan.roles_of[session.id]:
        role = plan.roles[j]
        free = plan.free_seats(role) > 0
        # Whose seat a coverer may take: a free one (None), else a proposal's here.
        givers: list[int | None] = (
            [None] if free else [v for v, r in plan.proposed_in(session.id) if r == role.id]
        )
        if not givers:
            continue
        seen: set[int] = set()
        for need in sorted(missing):
            for pair_cost, coverer in plan.coverers(j, need)[:MOVE_CANDIDATES]:
                if coverer in seen or (coverer, session.id) in plan.refused:
                    continue
                seen.add(coverer)
                skills = rules.volunteer[coverer].accessibility
                for giver in givers:
                    left = missing if giver is None else plan.missing_needs(session, without=giver)
                    if left - skills:
                        continue
                    lost = 0 if giver is None else plan.proposals[(giver, role.id)]
                    option = _coverer_from(plan, coverer, session, pair_cost)
                    if option is None:
                        continue
                    change, held = option
                    change -= lost + (rules.seat_cost(role) if giver is None else 0)
                    if best is None or change < best[0]:
                        best = (change, coverer, role, giver, pair_cost, held)
    if best is None:
        return False
    _, coverer, role, giver, pair_cost, held = best
    if giver is not None:
        plan.remove(giver, role)
        repair.changes.append(Change("remove", giver, role.id))
    if held is not None:
        plan.remove(coverer, held)
        plan.add(coverer, role, pair_cost)
        repair.changes.append(Change("move", coverer, role.id))
    else:
        plan.add(coverer, role, pair_cost)
        repair.changes.append(Change("add", coverer, role.id))
    return True


def _coverer_from(
    plan: WorkingPlan, coverer: int, session: Session, pair_cost: int
) -> tuple[int, Role | None] | None:
    """What bringing `coverer` to `session` costs, and the seat they leave (None: they
    were free); None when they cannot come."""
    if plan.fits(coverer, session):
        return plan.marginal_cost(pair_cost, coverer), None
    rules = plan.rules
    for held_role_id in sorted(plan.held[coverer]):
        held = rules.role[held_role_id]
        there = rules.session[held.session_id]
        if there.id == session.id or not plan.fits(coverer, session, ignoring=there):
            continue
        if there.needs and plan.missing_needs(there, without=coverer):
            continue  # needed there too
        change = pair_cost - plan.proposals[(coverer, held.id)] + rules.seat_cost(held)
        return change, held
    return None


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
