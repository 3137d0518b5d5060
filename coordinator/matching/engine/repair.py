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
    """Give one free seat of `role` its cheapest taker, directly or by one move.

    Only changes that lower the objective count, and the moves are tried by a lower
    bound of their change (the refill at the held role's cheapest pair cost), so most
    refills need no search: one is searched only below what would still beat the best
    change so far (`best_free`'s `limit`). The choice is the scan in order's: the
    cheapest change, the direct taker, then the earliest move, winning ties."""
    if plan.free_seats(role) <= 0:
        return
    rules = plan.rules
    session = rules.session[role.session_id]
    j = plan.role_index[role.id]
    missing = plan.missing_needs(session)
    unfilled = rules.seat_cost(role)
    best: Choice | None = None
    best_key = (0, -1)  # (change, place) to beat: 0, the empty seat as it is
    direct = best_free(plan, j, session, missing, limit=unfilled)
    if direct is not None:
        best = Choice(direct.marginal_cost - unfilled, direct)
        best_key = (best.change, -1)
    moves: list[tuple[int, int, int, int, Role, Session, bool, int]] = []
    for pair_cost, mover in _with_proposals(plan, j):
        if len(moves) >= MOVE_CANDIDATES:
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
            covering = bool(there.needs and plan.missing_needs(there, without=mover))
            if covering and plan.staff[there.id] != {mover}:
                continue
            gain = pair_cost - plan.proposals[(mover, held.id)]
            left_empty = rules.seat_cost(held)
            h = plan.role_index[held.id]
            cheapest = left_empty
            if not covering and plan.c_start_list[h + 1] > plan.c_start_list[h]:
                cheapest = min(left_empty, int(plan.c_cost[plan.c_start_list[h]]))
            bound = gain + cheapest - unfilled
            moves.append((bound, len(moves), mover, pair_cost, held, there, covering, gain))
    for bound, place, mover, pair_cost, held, there, covering, gain in sorted(
        moves, key=lambda m: (m[0], m[1])
    ):
        if (bound, place) >= best_key:
            break  # neither this move nor any after it can win
        left_empty = rules.seat_cost(held)
        refill = None
        if not covering:
            # A refill is worth knowing only below the empty seat it saves and below
            # what still beats the best change so far (a tie wins from an earlier place).
            limit = best_key[0] - gain + unfilled + (place < best_key[1])
            refill = best_free(
                plan, plan.role_index[held.id], there, frozenset(), mover, min(left_empty, limit)
            )
        if refill is not None:
            delta = gain + refill.marginal_cost - unfilled
        else:  # their seat stays empty: worth it where it counts less
            delta = gain + left_empty - unfilled
        if (delta, place) < best_key:
            best = Choice(delta, Move(mover, held, pair_cost, refill))
            best_key = (delta, place)
    if best is None:
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
        held = plan.held.get  # (a defaultdict's [] would add an empty set per volunteer)
        return [(cost, v) for cost, v in plan.candidates(j) if held(v)]
    at = lo + np.flatnonzero(plan.held_at[plan.c_index[lo:hi]] > 0)
    return zip(plan.c_cost[at].tolist(), plan.c_vol[at].tolist(), strict=True)


def best_free(
    plan: WorkingPlan,
    j: int,
    session: Session,
    missing: frozenset[str],
    besides: int | None = None,
    limit: int | None = None,
) -> Taker | None:
    """The cheapest volunteer who fits role index `j` as is; with `limit`, only one who
    adds less than `limit` (None otherwise: the search stops there).

    Candidates come by pair cost. On long lists, the first acceptable one with nothing
    booked surely fits at just its pair cost; before it, only those whose pair cost plus
    load could still match it are checked one by one (read from arrays, not the list)."""
    lo, hi = plan.c_start_list[j], plan.c_start_list[j + 1]
    if limit is None:
        limit = 1 << 62
    elif hi == lo or plan.c_cost[lo] >= limit:
        return None  # even the cheapest pair costs too much
    elif hi - lo > SCAN_BELOW:  # only pairs cheaper than the limit (costs ascend)
        hi = lo + int(np.searchsorted(plan.c_cost[lo:hi], limit))
    idle = None
    if hi - lo <= SCAN_BELOW:  # a short list: scanned in Python, no arrays
        return _scan(plan, plan.candidates(j), session, missing, besides, limit, idle)
    load: npt.NDArray[np.int64] = plan.load_at[plan.c_index[lo:hi]]
    for at in np.flatnonzero(load == 0).tolist():
        pair_cost = int(plan.c_cost[lo + at])
        if pair_cost >= limit:
            break
        volunteer_id = int(plan.c_vol[lo + at])
        if _acceptable(plan, volunteer_id, session, missing, besides):
            idle = Taker(pair_cost, volunteer_id, pair_cost)
            break
    options: Iterable[Option]
    if idle is None:  # everyone has bookings: scan the cached list
        options = plan.candidates(j)
    else:  # an earlier candidate wins a tie, as in a scan in order
        with_load = plan.c_cost[lo : lo + at] + plan.rules.weights.load * load[:at]
        check = lo + np.flatnonzero(with_load <= idle.marginal_cost)
        options = zip(plan.c_cost[check].tolist(), plan.c_vol[check].tolist(), strict=True)
        limit = idle.marginal_cost + 1  # a tie with the idle one still goes to the earlier
    return _scan(plan, options, session, missing, besides, limit, idle)


def _scan(
    plan: WorkingPlan,
    options: Iterable[Option],
    session: Session,
    missing: frozenset[str],
    besides: int | None,
    limit: int,
    idle: Taker | None,
) -> Taker | None:
    """best_free's scan in order: the first cheapest below `limit` who fits, unless the
    `idle` one (nothing booked, found first) is cheaper still."""
    best = None
    refused, fits, accessibility = plan.refused, plan.fits, plan.rules.volunteer
    load_cost, load_count, session_id = plan.rules.load_cost, plan.load, session.id
    for pair_cost, volunteer_id in options:
        if pair_cost >= limit:
            break
        # _acceptable and marginal_cost, inline: this loop is most of a repair's time.
        if volunteer_id == besides or (volunteer_id, session_id) in refused:
            continue
        if missing and not missing & accessibility[volunteer_id].accessibility:
            continue
        if fits(volunteer_id, session):
            extra = pair_cost + load_cost(load_count[volunteer_id] + 1)
            if extra < limit:
                best, limit = Taker(extra, volunteer_id, pair_cost), extra
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
