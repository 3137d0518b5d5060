"""A full plan: a min-cost flow (OR-tools) over the candidates, then exact finishing.

The flow network, per volunteer, is a tree of capacities, so the flow is exact for it:

    source ─load units─▶ volunteer ─weekly limit─▶ week ─1─▶ cluster ─pair─▶ role ─▶ sink
    source ───────────── empty seat (unfilled cost) ────────────────────────▶ role
    cluster ─coverer's pair─▶ cover node ─first coverers earn a bonus─▶ one role per
    session with needs

The k-th unit into a volunteer costs `load * (k - 1)` (fair load is convex); a cluster
holds sessions too close to do two of, so at most one is taken. What a flow cannot say is
finished exactly afterwards: sessions whose participants' needs are not covered get a
coverer or no proposals at all, and seats the clusters' caution left open are filled.

On large problems (millions of pairs) the flow sees a view of each role's cheapest
pairs; a second, smaller flow then rearranges the plan around the pairs that finishing
found outside that view (see `plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Set
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

from coordinator.matching.engine import candidates as candidate_pairs
from coordinator.matching.engine import repair, subproblem
from coordinator.matching.engine.candidates import Candidates
from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.explain import explain
from coordinator.matching.engine.keys import keys_of, pair_keys
from coordinator.matching.engine.problem import SCALE, Plan, Problem, Role, Session, Volunteer
from coordinator.matching.engine.repair import Taker
from coordinator.matching.engine.state import WorkingPlan

Progress = Callable[[str, float], None]
MAX_FLOW_ROUNDS = 3
# Below this many pairs a flow is planned again without the sessions whose needs its
# plan could not cover (up to MAX_FLOW_ROUNDS flows); above, the second flow does it,
# and the first flow sees the WIDE view only (see plan).
REFLOW_BELOW = 100_000
# Above this many pairs the flows see a part of the pairs (see _views). A city's week
# (1,000 sessions, 20,000 volunteers: 320,000 pairs) planned this way got the same
# objective as over every pair on each of its five weeks, for 0.3-0.7 s less CPU each;
# the benchmark's medium and tight problems (up to 200,000 pairs) stay below.
SPARSE_ABOVE = 250_000
# Views of the flows on large problems: (pairs per seat, per volunteer); see _views.
# WIDE is also the first flow's view from REFLOW_BELOW pairs up.
# The first flow's time grows fast with its view (large: 16 per seat 2.9 s of CPU, 25
# per seat 4.5 s); replace_by_cheaper wins back most of what a narrower view misses.
WIDE = (16, 10)
NARROW = (6, 3)
BONUS_SHARE = 5
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Pairs = npt.NDArray[np.intp]  # indices of candidate pairs


class CoverBonus(NamedTuple):
    """Per session with needs, the role whose coverers earn the bonus (role indices)."""

    role: Ints
    units: Ints  # coverers who earn it: one per need
    bonus: Ints  # per coverer, in points


class CoverOption(NamedTuple):
    """A coverer brought into a session: to a free seat, or replacing a colleague."""

    extra: int  # what it adds to the objective
    volunteer_id: int
    role: Role
    replaced: int | None  # the colleague who gives up the seat


class CoverMove(NamedTuple):
    """A coverer moved in from a proposal elsewhere."""

    loss: int  # what the other session loses, plus the change in pair cost
    volunteer_id: int
    pair_cost: int  # in the role here
    role: Role  # here
    held: Role  # the role they leave there
    replaceable: list[int]  # colleagues here one of whom gives up the seat if it is full


def solve(problem: Problem, progress: Progress | None = None) -> Plan:
    """The plan with its reasons (see `plan` for the editable working state)."""
    clock = time.perf_counter()
    working, cands = plan(problem, progress)
    result = as_plan(working)
    result.stats.update(pairs=len(cands), seconds=round(time.perf_counter() - clock, 3))
    if progress:
        progress("done", 1.0)
    return result


def plan(problem: Problem, progress: Progress | None = None) -> tuple[WorkingPlan, Candidates]:
    """The working plan (repairs edit it) and the candidate pairs it was chosen from."""
    report = progress or (lambda _stage, _fraction: None)
    rules = Rules(problem)
    cands = candidate_pairs.build(problem, rules)
    report("candidates", 0.3)
    staffable = _staffable(problem, cands)
    hopeless = _hopeless(problem, cands, staffable)
    if len(cands) < REFLOW_BELOW:
        # A flow again without the sessions its plan could not cover, where flows are
        # cheap (up to MAX_FLOW_ROUNDS).
        working = _flow_and_finish(
            problem, rules, cands, staffable, MAX_FLOW_ROUNDS, closed=hopeless
        )
        report("flow", 0.9)
        return _not_worse(working, problem, rules, cands, hopeless, parts=True), cands
    if len(cands) <= SPARSE_ABOVE:
        # One first flow, over the wide view: its plan mostly decides around which
        # proposals the second flow's clusters split (see _doubles), and the second flow
        # sees every pair (less those of the sessions the first gave up). Medium seed 1:
        # the first flow's OR-tools time 0.24 s -> 0.05 s, the same plan.
        (wide,) = _views(problem, cands, (WIDE,))
        working = _flow_and_finish(
            problem, rules, cands, staffable, 1, closed=hopeless, first_view=wide
        )
        report("flow", 0.9)
        return _not_worse(working, problem, rules, cands, hopeless, parts=True), cands
    # Large problems: the flow sees a wide view; finishing then reaches pairs it did not
    # see (deep in the lists of roles whose nearest candidates were taken), and a second,
    # quicker flow over those and a narrow view rearranges the plan around them.
    wide, narrow = _views(problem, cands)
    working = _flow_and_finish(
        problem, rules, cands, staffable & wide, 1, doubles=False, closed=hopeless
    )
    report("flow", 0.6)
    narrow[_plan_pairs(working, cands)] = True
    # The second flow also has the finer clusters around the first plan (see _doubles).
    keep, clustering = _doubles(problem, rules, cands, staffable & narrow, working)
    working, _ = _flow_rounds(problem, rules, cands, keep, 1, clustering, hopeless)
    report("second flow", 0.9)
    return _not_worse(working, problem, rules, cands, hopeless, parts=False), cands


def _not_worse(
    working: WorkingPlan,
    problem: Problem,
    rules: Rules,
    cands: Candidates,
    hopeless: Set[int],
    parts: bool,
) -> WorkingPlan:
    """A re-plan (earlier proposals among the bookings) never hands back a plan worse
    than the earlier one: that plan, as it stands (the proposals still allowed, after
    the repairs since), is finished by the same steps (and, with `parts`, its empty
    seats' parts solved exactly), and the better of the two is kept, counting each
    earlier proposal's keep bonus. A new flow from scratch lands where its ties lead
    (the benchmark's drift: a re-plan with a keep bonus of 0.5 point once lost a seat
    the plan it replaced held); improving the plan in place cannot lose what it has."""
    earlier = {(b.volunteer_id, b.role_id) for b in problem.bookings if not b.fixed}
    if not earlier:
        return working
    warm = WorkingPlan(rules, cands)
    found = np.flatnonzero(_earlier(problem, earlier, cands.vol, cands.role))
    _apply(warm, problem, cands, found)
    cover_needs(warm)
    _finish(warm, set(hopeless))
    if parts:
        subproblem.improve_by_parts(warm, hopeless)

    def score(plan: WorkingPlan) -> int:
        kept = sum(pair in earlier for pair in plan.proposals)
        return rules.objective(plan.pairs()) * SCALE - kept * rules.weights.keep_bonus

    return warm if score(warm) < score(working) else working


def _flow_and_finish(
    problem: Problem,
    rules: Rules,
    cands: Candidates,
    allowed: Bools,
    rounds: int,
    doubles: bool = True,
    closed: Set[int] | None = None,
    first_view: Bools | None = None,
) -> WorkingPlan:
    """A flow over the `allowed` pairs (those of `first_view` only, when given), then
    the exact finishing steps; then, when `doubles`, the same again over the `allowed`
    pairs with finer clusters around that plan (see _doubles), the better of the two
    plans kept."""
    if closed is None:
        closed = _hopeless(problem, cands)
    first = allowed if first_view is None else allowed & first_view
    working, left = _flow_rounds(problem, rules, cands, first, rounds, None, closed)
    if not doubles:
        return working
    # After one round the second flow is also the flow again without the sessions that
    # round gave up (see plan); after several, it may try them once more.
    once = rounds == 1 and left is not first
    if once and first_view is not None:  # every pair but those of the sessions given up
        gone = np.unique(cands.session[first & ~left])
        left = allowed & ~np.isin(cands.session, gone)
    keep, clustering = _doubles(problem, rules, cands, left if once else allowed, working)
    # After a first flow over a view, the second one is also the flow over every pair.
    if clustering is not None or once or first_view is not None:
        again, _ = _flow_rounds(problem, rules, cands, keep, 1, clustering, closed)
        if rules.objective(again.pairs()) < rules.objective(working.pairs()):
            working = again
    # What one-at-a-time moves and chains cannot reach (several experts at their weekly
    # limits changing sessions at once to staff one more lead seat): each week's part
    # around its empty seats, solved exactly.
    subproblem.improve_by_parts(working, closed)
    return working


def _flow_rounds(
    problem: Problem,
    rules: Rules,
    cands: Candidates,
    allowed: Bools,
    rounds: int,
    clustering: Clustering | None = None,
    hopeless: Set[int] | None = None,
) -> tuple[WorkingPlan, Bools]:
    """The flow's plan, finished; and the `allowed` pairs less those of the sessions
    given up because their needs could not be covered."""
    for _round in range(rounds):
        working = WorkingPlan(rules, cands)
        _apply(working, problem, cands, flow(problem, rules, cands, allowed, clustering))
        dropped = cover_needs(working)
        if not dropped:
            break
        # Sessions that cannot be staffed with their needs covered give their volunteers
        # back: plan again without them rather than patch around the hole.
        session_ids = np.array([s.id for s in problem.sessions], dtype=np.int64)
        allowed = allowed & ~np.isin(session_ids[cands.session], list(dropped))
    # Sessions with a need nobody covers are never filled (their volunteers would only
    # be taken back by cover_needs, after a move had cost someone else their seat).
    closed: set[int] = set(_hopeless(problem, cands) if hopeless is None else hopeless)
    _finish(working, closed)
    return working, allowed


def _finish(working: WorkingPlan, closed: set[int]) -> None:
    """The exact finishing steps after a flow (or on an earlier plan): needs covered,
    empty seats filled directly, by moves, chains and paths, exchanges for needs,
    dearer roles, cheaper takers. `closed` sessions are never filled (it grows by the
    sessions given up)."""
    for _round in range(MAX_FLOW_ROUNDS):
        fill_open_seats(working, closed)
        fill_by_moves(working, closed)
        fill_by_chains(working, closed)
        fill_by_paths(working, closed)
        dropped = cover_needs(working)
        if not dropped:
            break
        # Their volunteers are free again: fill with them, leaving those sessions closed.
        closed |= dropped
    if exchange_for_needs(working, closed):
        fill_open_seats(working, closed)
        fill_by_moves(working, closed)
        # An exchange can leave a session it took a coverer from uncovered (tight seed
        # 9 of the benchmark: a hard rule broken); cover it again or give it up.
        cover_needs(working)
    upgrade_roles(working)
    swap_in_needs(working)
    replace_by_cheaper(working)


class Clustering(NamedTuple):
    """Clusters other than the candidates' own: per candidate pair its cluster (only the
    allowed pairs' count), per cluster its (volunteer, week) id."""

    cluster: Ints
    cluster_week: Ints


def _doubles(
    problem: Problem, rules: Rules, cands: Candidates, allowed: Bools, working: WorkingPlan
) -> tuple[Bools, Clustering | None]:
    """Finer clusters around a plan, so that a volunteer can take two sessions of one
    cluster: in each cluster where the volunteer holds a proposal, the sessions that
    clash with it are left out, and what is left is clustered again (a session before
    and one after the proposal are then apart). The plan stays possible, so a flow over
    these is at least as good in its own terms; what it gives up is moving volunteers to
    a session that clashes with the one they hold. None when no cluster splits."""
    held = _plan_pairs(working, cands)
    if held.size == 0:
        return allowed, None
    s_start = np.array([s.start for s in problem.sessions], dtype=np.int64)
    s_end = np.array([s.end for s in problem.sessions], dtype=np.int64)
    wards = sorted({s.ward for s in problem.sessions})
    ward_at = {w: i for i, w in enumerate(wards)}
    s_ward = np.array([ward_at[s.ward] for s in problem.sessions], dtype=np.int64)
    near = np.eye(len(wards), dtype=bool)  # no travel gap between them
    for a, others in problem.neighbours.items():
        for b in others:
            if a in ward_at and b in ward_at:
                near[ward_at[a], ward_at[b]] = near[ward_at[b], ward_at[a]] = True
    gap = problem.travel_gap
    # Per cluster, the sessions proposed in it (a few clusters hold two already).
    order = np.argsort(cands.cluster[held], kind="stable")
    held_cluster = cands.cluster[held][order].astype(np.int64)
    held_session = cands.session[held][order].astype(np.int64)
    pairs = np.flatnonzero(allowed)
    cluster = cands.cluster[pairs].astype(np.int64)
    clash = np.zeros(pairs.size, dtype=bool)
    first = np.searchsorted(held_cluster, cluster, side="left")
    last = np.searchsorted(held_cluster, cluster, side="right")
    session = cands.session[pairs].astype(np.int64)
    for k in range(int((last - first).max(initial=0))):
        at = first + k
        has = at < last
        other = held_session[np.minimum(at, held_session.size - 1)]
        overlap = (s_start[session] < s_end[other]) & (s_start[other] < s_end[session])
        travel = ~near[s_ward[session], s_ward[other]] & (
            (s_start[session] < s_end[other] + gap) & (s_start[other] < s_end[session] + gap)
        )
        clash |= has & (session != other) & (overlap | travel)
    if not clash.any():
        return allowed, None
    pairs, cluster, session = pairs[~clash], cluster[~clash], session[~clash]
    vol = cands.vol[pairs].astype(np.int64)
    week_id = cands.cluster_week[cluster]
    start, end = s_start[session], s_end[session]
    offset = vol * (1 << 40)
    running_end = np.maximum.accumulate(end + offset) - offset
    new = np.ones(pairs.size, dtype=bool)
    new[1:] = (cluster[1:] != cluster[:-1]) | (start[1:] >= running_end[:-1] + gap)
    new_id = np.cumsum(new) - 1
    full = np.zeros(len(cands), dtype=np.int64)
    full[pairs] = new_id
    keep = np.zeros(len(cands), dtype=bool)
    keep[pairs] = True
    if int(new_id[-1]) + 1 == np.unique(cluster).size:
        return allowed, None  # no cluster split: the same flow again
    return keep, Clustering(full, week_id[new])


def _plan_pairs(working: WorkingPlan, cands: Candidates) -> Ints:
    """Indices of the plan's proposals among the candidates (sorted by volunteer)."""
    if not working.proposals:
        return np.zeros(0, dtype=np.int64)
    vol = np.array([working.vol_index[v] for v, _ in working.proposals], dtype=np.int64)
    role = np.array([working.role_index[r] for _, r in working.proposals], dtype=np.int64)
    bounds = np.searchsorted(cands.vol, np.arange(len(working.vols) + 1))
    count = bounds[vol + 1] - bounds[vol]
    at = candidate_pairs.expand(bounds[vol], count)
    found: Ints = at[cands.role[at] == np.repeat(role, count)]
    return found


def _apply(working: WorkingPlan, problem: Problem, cands: Candidates, chosen: Pairs) -> None:
    vol_ids = np.array([v.id for v in problem.volunteers], dtype=np.int64)
    for p in chosen[np.argsort(cands.cost[chosen], kind="stable")]:
        volunteer_id = int(vol_ids[cands.vol[p]])
        role = problem.roles[cands.role[p]]
        session = working.rules.session[role.session_id]
        # (A flow's pairs always have their seat; earlier proposals may not, when fixed
        # bookings took it since.)
        if working.free_seats(role) > 0 and working.fits(volunteer_id, session):
            working.add(volunteer_id, role, int(cands.cost[p]))


def _hopeless(problem: Problem, cands: Candidates, staffable: Bools | None = None) -> set[int]:
    """Ids of the sessions that cannot be staffed: some need no candidate covers
    (`staffable`: `_staffable`'s answer, when known)."""
    if staffable is None:
        staffable = _staffable(problem, cands)
    if staffable.all():
        return set()
    ids = np.array([s.id for s in problem.sessions], dtype=np.int64)
    return set(ids[np.unique(cands.session[~staffable])].tolist())


def _staffable(problem: Problem, cands: Candidates) -> Bools:
    """Pairs of sessions whose every need some candidate covers (others cannot be staffed
    at all, so their volunteers are better used elsewhere)."""
    wanted, has = _need_bits(problem)
    if not wanted.any():
        return np.ones(len(cands), dtype=bool)
    covered = np.zeros(len(problem.sessions), dtype=np.int64)
    asking = np.flatnonzero(wanted[cands.session] != 0)
    np.bitwise_or.at(covered, cands.session[asking], has[cands.vol[asking]])
    index = {s.id: k for k, s in enumerate(problem.sessions)}
    vol_index = {v.id: i for i, v in enumerate(problem.volunteers)}
    for booking in problem.bookings:
        if booking.fixed and booking.volunteer_id in vol_index and booking.session_id in index:
            covered[index[booking.session_id]] |= has[vol_index[booking.volunteer_id]]
    staffable: Bools = (wanted & ~covered)[cands.session] == 0
    return staffable


def _views(
    problem: Problem, cands: Candidates, sizes: tuple[tuple[int, int], ...] | None = None
) -> list[Bools]:
    """What the flows of a large problem see: of each role's cheapest pairs per seat,
    those among their volunteer's best placed (by place in the role's list, per seat),
    and every earlier proposal. The wide view keeps WIDE = (pairs per seat, per
    volunteer), the narrow one NARROW. Someone living near many sessions is among the
    cheapest everywhere but can take only a few: their arcs where others would do as
    well only slow the flow."""
    order, starts = cands.by_role, cands.role_start
    roles = cands.role[order]
    seats = np.array([max(r.seats, 1) for r in problem.roles], dtype=np.int64)
    place = (np.arange(order.size) - starts[roles]) / seats[roles]
    sizes = sizes or (WIDE, NARROW)
    near = place < max(per_seat for per_seat, _ in sizes)
    pairs, place = order[near], place[near]
    by_volunteer = np.lexsort((place, cands.vol[pairs]))
    pairs, place = pairs[by_volunteer], place[by_volunteer]
    vols = cands.vol[pairs]
    first = np.flatnonzero(np.r_[True, vols[1:] != vols[:-1]])
    rank = np.arange(vols.size) - np.repeat(first, np.diff(np.r_[first, vols.size]))
    views = []
    for per_seat, per_volunteer in sizes:
        keep = np.zeros(len(cands), dtype=bool)
        keep[pairs[(place < per_seat) & (rank < per_volunteer)]] = True
        views.append(keep)
    existing = {(b.volunteer_id, b.role_id) for b in problem.bookings if not b.fixed}
    if existing:
        earlier = _earlier(problem, existing, cands.vol, cands.role)
        for keep in views:
            keep |= earlier
    return views


def _earlier(
    problem: Problem,
    existing: set[tuple[int, int]],
    vol: npt.NDArray[np.int32],
    role: npt.NDArray[np.int32],
) -> Bools:
    """Which (volunteer index, role index) pairs are earlier proposals (`existing`:
    (volunteer id, role id))."""
    vol_ids = np.array([v.id for v in problem.volunteers], dtype=np.int64)
    role_ids = np.array([r.id for r in problem.roles], dtype=np.int64)
    return np.isin(pair_keys(vol_ids[vol], role_ids[role]), keys_of(existing))


def working_plan(problem: Problem) -> tuple[WorkingPlan, Candidates]:
    """The plan as it stands, unsolved: the matcher's earlier proposals in place."""
    rules = Rules(problem)
    cands = candidate_pairs.build(problem, rules)
    working = WorkingPlan(rules, cands)
    for booking in problem.bookings:
        if not booking.fixed and booking.role_id in rules.role:
            role = rules.role[booking.role_id]
            volunteer = rules.volunteer.get(booking.volunteer_id)
            if volunteer is not None:
                cost = rules.pair_cost(volunteer, rules.session[role.session_id])
                working.add(booking.volunteer_id, role, cost)
    return working, cands


def as_plan(working: WorkingPlan) -> Plan:
    """The result with its reasons."""
    return explain(working)


def flow(
    problem: Problem,
    rules: Rules,
    cands: Candidates,
    allowed: Bools | None = None,
    clustering: Clustering | None = None,
) -> Pairs:
    """Indices of the candidate pairs (among `allowed`) a min-cost flow picks.

    Layers that cannot bind are left out, which keeps the graph small: a week whose limit
    is at least its number of clusters hangs its clusters on the volunteer, and a
    cluster of one pair is just that pair's arc (capacity 1)."""
    pairs = np.flatnonzero(allowed) if allowed is not None else np.arange(len(cands))
    roles, w = problem.roles, problem.weights
    existing = {(b.volunteer_id, b.role_id) for b in problem.bookings if not b.fixed}
    # Costs in points, or in 1/SCALE points when earlier proposals get their tie-break
    # bonus: cost scaling does about a tenth less work on the smaller range.
    scale = SCALE if existing else 1
    # Only the clusters, weeks and volunteers the allowed pairs use (compact ids).
    of_pair, of_cluster = clustering or (cands.cluster, cands.cluster_week)
    clusters, pair_cluster = np.unique(of_pair[pairs], return_inverse=True)
    weeks, cluster_week = np.unique(of_cluster[clusters], return_inverse=True)
    week_vol = cands.week_vol[weeks]
    week_cap = cands.week_cap[weeks]
    n_vol, n_role = len(problem.volunteers), len(roles)
    seats = np.array([max(r.seats, 0) for r in roles], dtype=np.int64)
    unfilled = np.array([rules.seat_cost(r) for r in roles], dtype=np.int64)

    # Load units: as many as the volunteer could possibly use, each dearer than the last.
    clusters_per_week = np.bincount(cluster_week, minlength=len(weeks))
    usable = np.minimum(week_cap, clusters_per_week)
    units = np.bincount(week_vol, weights=usable, minlength=n_vol).astype(np.int64)
    unit_vol = np.repeat(np.arange(n_vol), units)
    unit_k = np.arange(unit_vol.size) - np.repeat(np.cumsum(units) - units, units)
    fixed = np.array([rules.fixed_load[v.id] for v in problem.volunteers], dtype=np.int64)
    unit_cost = w.load * (fixed[unit_vol] + unit_k) * scale

    # Node ids: 0 source, 1 sink, volunteers, binding weeks, clusters of 2+ pairs, roles.
    binding = week_cap < clusters_per_week
    week_node = np.where(binding, 0, 2 + week_vol)
    week_node[binding] = 2 + n_vol + np.arange(int(binding.sum()))
    next_id = 2 + n_vol + int(binding.sum())
    pairs_per_cluster = np.bincount(pair_cluster, minlength=len(clusters))
    shared = pairs_per_cluster > 1
    cluster_node = week_node[cluster_week].copy()
    cluster_node[shared] = next_id + np.arange(int(shared.sum()))
    role_base = next_id + int(shared.sum())

    pair_cost = cands.cost[pairs] * scale
    if existing:
        keep = _earlier(problem, existing, cands.vol[pairs], cands.role[pairs])
        pair_cost = pair_cost - keep * w.keep_bonus

    # Coverers of a session's needs reach one of its roles through a node whose first
    # units (one per need) earn the session's worth: the flow then spends scarce
    # coverers where they staff the most seats. It knows nothing else of needs;
    # cover_needs settles them exactly.
    pair_head = role_base + cands.role[pairs]
    open_needs = _open_needs(problem)
    covering = _covers(problem, cands, pairs, open_needs)
    cover_role, cover_units, cover_bonus = _cover_bonus(
        problem, rules, cands, pairs[covering], open_needs
    )
    n_cover = cover_role.size
    cover_node = np.full(n_role, -1, dtype=np.int64)
    cover_node[cover_role] = role_base + n_role + np.arange(n_cover)
    rerouted = covering & (cover_node[cands.role[pairs]] >= 0)
    pair_head[rerouted] = cover_node[cands.role[pairs][rerouted]]

    one = np.ones
    parts = [  # (tails, heads, capacities, costs)
        (np.zeros(unit_vol.size, np.int64), 2 + unit_vol, one(unit_vol.size, np.int64), unit_cost),
        (
            2 + week_vol[binding],
            week_node[binding],
            week_cap[binding],
            np.zeros(int(binding.sum()), np.int64),
        ),
        (
            week_node[cluster_week[shared]],
            cluster_node[shared],
            one(int(shared.sum()), np.int64),
            np.zeros(int(shared.sum()), np.int64),
        ),
        (cluster_node[pair_cluster], pair_head, one(pairs.size, np.int64), pair_cost),
        (np.zeros(n_role, np.int64), role_base + np.arange(n_role), seats, unfilled * scale),
        (
            role_base + np.arange(n_role),
            np.ones(n_role, np.int64),
            seats,
            np.zeros(n_role, np.int64),
        ),
        (
            cover_node[cover_role],
            role_base + cover_role,
            cover_units,
            -cover_bonus * scale,
        ),
        (
            cover_node[cover_role],
            role_base + cover_role,
            seats[cover_role],
            np.zeros(n_cover, np.int64),
        ),
    ]
    tails, heads, capacities, costs = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    total = int(seats.sum())
    solver.set_nodes_supplies(np.array([0, 1]), np.array([total, -total]))
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: status {status}")
    first_pair = sum(len(part[0]) for part in parts[:3])
    flows = solver.flows(arcs[first_pair : first_pair + pairs.size])
    chosen: Pairs = pairs[flows > 0]
    return chosen


def _need_bits(problem: Problem) -> tuple[Ints, Ints]:
    """Per session: its needs as bits; per volunteer: the needs they cover, as bits."""
    needs = sorted({need for s in problem.sessions for need in s.needs})
    bit = {need: 1 << i for i, need in enumerate(needs)}
    wanted = [sum(bit[n] for n in s.needs) for s in problem.sessions]
    has = [sum(bit.get(n, 0) for n in v.accessibility) for v in problem.volunteers]
    return np.array(wanted, dtype=np.int64), np.array(has, dtype=np.int64)


def _open_needs(problem: Problem) -> Ints:
    """Per session: its needs (as bits) that no fixed booking's volunteer covers."""
    wanted, has = _need_bits(problem)
    index = {s.id: k for k, s in enumerate(problem.sessions)}
    vol_index = {v.id: i for i, v in enumerate(problem.volunteers)}
    for booking in problem.bookings:
        if booking.fixed and booking.volunteer_id in vol_index and booking.session_id in index:
            wanted[index[booking.session_id]] &= ~has[vol_index[booking.volunteer_id]]
    return wanted


def _covers(problem: Problem, cands: Candidates, pairs: Pairs, open_needs: Ints) -> Bools:
    """Pairs whose volunteer covers a need of the session that fixed staff leave open
    (`open_needs`, see _open_needs; only those earn the flow's bonus)."""
    if not open_needs.any():
        return np.zeros(pairs.size, dtype=bool)
    _, has = _need_bits(problem)
    covers: Bools = (open_needs[cands.session[pairs]] & has[cands.vol[pairs]]) != 0
    return covers


def _cover_bonus(
    problem: Problem, rules: Rules, cands: Candidates, covering: Pairs, open_needs: Ints
) -> CoverBonus:
    """For each session with needs: the role where its coverers are the largest share of
    the candidates (an interpreter's seat needs one anyway, so the bonus moves nobody),
    how many coverers earn a bonus there (one per need) and the bonus: BONUS_SHARE
    percent of the session's empty seats' cost, shared among its needs."""
    if covering.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return CoverBonus(empty, empty, empty)
    n_roles = len(problem.roles)
    coverers = np.bincount(cands.role[covering], minlength=n_roles)
    share = coverers / np.maximum(np.bincount(cands.role, minlength=n_roles), 1)
    best: dict[int, int] = {}  # session id -> role index
    for j in np.flatnonzero(coverers).tolist():
        session_id = problem.roles[j].session_id
        k = best.get(session_id)
        if k is None or (share[j], coverers[j]) > (share[k], coverers[k]):
            best[session_id] = j
    seats: dict[int, int] = {}  # session id -> what its empty seats cost
    for role in problem.roles:
        seats[role.session_id] = seats.get(role.session_id, 0) + max(
            role.seats, 0
        ) * rules.seat_cost(role)
    roles = sorted(best.values())
    sessions = [problem.roles[j].session_id for j in roles]
    index = {s.id: k for k, s in enumerate(problem.sessions)}
    needs = [max(int(open_needs[index[s]]).bit_count(), 1) for s in sessions]
    worth = [seats[s] * BONUS_SHARE // 100 for s in sessions]
    bonus = [w // n for w, n in zip(worth, needs, strict=True)]
    return CoverBonus(*(np.array(column, dtype=np.int64) for column in (roles, needs, bonus)))


def cover_needs(plan: WorkingPlan) -> set[int]:
    """Every session with proposals covers its participants' needs, or loses them:
    coverers come from free seats, in place of colleagues or moved from other sessions,
    and the session keeps them only when that costs less than leaving it empty. Returns
    the sessions that lost their proposals."""
    rules = plan.rules
    pending = {rules.role[r].session_id for (_, r) in plan.proposals}
    pending = {s for s in pending if rules.session[s].needs}
    dropped: set[int] = set()
    while pending:
        session = rules.session[min(pending)]
        pending.discard(session.id)
        if not plan.missing_needs(session):
            continue
        staff = plan.proposed_in(session.id)
        # Dropping the session gives up its proposals' worth (negative: they save seats).
        drop_change = -sum(plan.worth(v, rules.role[r], plan.proposals[(v, r)]) for v, r in staff)
        plan.begin()
        gave_up = []
        for need in sorted(plan.missing_needs(session)):
            if need in plan.missing_needs(session) and not _add_coverer(plan, session, need):
                taken_from = _move_coverer(plan, session, need)
                if taken_from is not None:
                    gave_up.append(taken_from)
        if not plan.missing_needs(session) and plan.change <= drop_change:
            plan.commit()
            # Sessions that gave up a coverer: look at them again.
            pending |= {s for s in gave_up if plan.missing_needs(rules.session[s])}
            continue
        plan.rollback()
        dropped.add(session.id)
        for volunteer_id, role_id in staff:
            plan.remove(volunteer_id, rules.role[role_id])
    return dropped


def _replaceable(plan: WorkingPlan, session: Session, role: Role, newcomer: Volunteer) -> list[int]:
    """Proposed colleagues in `role` whom `newcomer` can replace with the session's needs
    better covered than now (a colleague covering only some of them included)."""
    missing = len(plan.missing_needs(session))
    return [
        v
        for v in plan.staff[session.id]
        if (v, role.id) in plan.proposals
        and len(plan.missing_needs(session, without=v) - newcomer.accessibility) < missing
    ]


def _add_coverer(plan: WorkingPlan, session: Session, need: str) -> bool:
    """The cheapest way to bring in someone with `need`: a free seat, or in place of a
    proposed colleague whose going leaves the needs better covered than now."""
    rules = plan.rules
    best: CoverOption | None = None
    for j in plan.roles_of[session.id]:
        role = plan.roles[j]
        for pair_cost, volunteer_id in plan.coverers(j, need):
            volunteer = rules.volunteer[volunteer_id]
            if not plan.fits(volunteer_id, session):
                continue
            extra = plan.marginal_cost(pair_cost, volunteer_id)
            if plan.free_seats(role) > 0:
                option = CoverOption(extra - rules.seat_cost(role), volunteer_id, role, None)
            else:
                replaceable = _replaceable(plan, session, role, volunteer)
                if not replaceable:
                    continue
                out = max(replaceable, key=lambda v: plan.proposals[(v, role.id)])
                option = CoverOption(
                    extra - plan.proposals[(out, role.id)], volunteer_id, role, out
                )
            if best is None or option.extra < best.extra:
                best = option
    if best is None:
        return False
    if best.replaced is not None:
        plan.remove(best.replaced, best.role)
    plan.add(best.volunteer_id, best.role, _pair_cost(plan, best.role, best.volunteer_id))
    return True


def _move_coverer(plan: WorkingPlan, session: Session, need: str) -> int | None:
    """Bring in someone with `need` who is proposed elsewhere at the same time (or in a
    full week); the seat they leave is refilled if possible. Worth it when this
    session's seats are worth more than what the other session loses: one seat, or all
    its proposals when it needed this volunteer for its own needs. Of the possible moves
    the one that loses least there. Returns the session the volunteer came from."""
    rules = plan.rules
    here = plan.proposed_in(session.id)
    if not here:
        return None
    kept_here = sum(rules.seat_cost(rules.role[r]) for _, r in here)
    best: CoverMove | None = None
    for j in plan.roles_of[session.id]:
        role = plan.roles[j]
        for pair_cost, volunteer_id in plan.coverers(j, need):
            volunteer = rules.volunteer[volunteer_id]
            if (volunteer_id, session.id) in plan.refused:
                continue
            replaceable = _replaceable(plan, session, role, volunteer)
            if plan.free_seats(role) <= 0 and not replaceable:
                continue
            for held_id in sorted(plan.held[volunteer_id]):
                held = rules.role[held_id]
                there = rules.session[held.session_id]
                lost_there = rules.seat_cost(held)
                if there.needs and plan.missing_needs(there, without=volunteer_id):
                    lost_there = sum(
                        rules.seat_cost(rules.role[r]) for _, r in plan.proposed_in(there.id)
                    )
                if lost_there >= kept_here or there.id == session.id:
                    continue
                if not plan.fits(volunteer_id, session, ignoring=there):
                    continue
                loss = lost_there + pair_cost - plan.proposals[(volunteer_id, held_id)]
                if best is None or loss < best.loss:
                    best = CoverMove(loss, volunteer_id, pair_cost, role, held, replaceable)
    if best is None:
        return None
    role, held = best.role, best.held
    plan.remove(best.volunteer_id, held)
    if plan.free_seats(role) <= 0:
        out = max(best.replaceable, key=lambda v: plan.proposals[(v, role.id)])
        plan.remove(out, role)
    plan.add(best.volunteer_id, role, best.pair_cost)
    repair.fill(plan, held, repair.Repair())
    return held.session_id


def fill_by_moves(plan: WorkingPlan, closed: Set[int] = frozenset()) -> None:
    """Seats still empty (of sessions not `closed`): move a proposed volunteer there when
    a free one can take the seat they leave (what a flow over cautious clusters cannot
    see)."""
    rules = plan.rules
    open_roles = sorted(
        (plan.roles[j] for j in _open_roles(plan, closed)),
        key=lambda r: (-rules.seat_cost(r), r.id),
    )
    for role in open_roles:
        while plan.free_seats(role) > 0:
            before = len(plan.proposals)
            repair.fill(plan, role, repair.Repair())
            if len(plan.proposals) == before:
                break


def _pair_cost(plan: WorkingPlan, role: Role, volunteer_id: int) -> int:
    rules = plan.rules
    return rules.pair_cost(rules.volunteer[volunteer_id], rules.session[role.session_id])


def _open_roles(plan: WorkingPlan, closed: Set[int]) -> list[int]:
    """Indices of the roles with a free seat, of every session not `closed`."""
    taken, released = plan.taken, plan.released
    return [
        j
        for j, role in enumerate(plan.roles)
        if role.seats + released.get(role.id, 0) > taken.get(role.id, 0)
        and role.session_id not in closed
    ]


def fill_open_seats(plan: WorkingPlan, closed: Set[int] = frozenset()) -> None:
    """Seats still empty (of sessions not `closed`) get the cheapest volunteer who fits
    exactly (the flow's clusters are cautious: two sessions an hour apart may both be
    possible)."""
    rules = plan.rules
    order = sorted(
        _open_roles(plan, closed),
        key=lambda j: (-rules.seat_cost(plan.roles[j]), plan.roles[j].id),
    )
    for j in order:
        _fill_role(plan, j)


def _fill_role(plan: WorkingPlan, j: int) -> None:
    """The free seats of role index `j`, each to the cheapest volunteer who fits."""
    rules = plan.rules
    role = plan.roles[j]
    session = rules.session[role.session_id]
    options = plan.candidates(j)
    while plan.free_seats(role) > 0:
        missing = plan.missing_needs(session)
        best: Taker | None = None
        for pair_cost, volunteer_id in options:
            if missing and not (missing & rules.volunteer[volunteer_id].accessibility):
                continue
            if best is not None and pair_cost >= best.marginal_cost:
                break  # sorted by pair cost; load only adds
            if (volunteer_id, session.id) in plan.refused:
                continue
            if plan.fits(volunteer_id, session):
                extra = plan.marginal_cost(pair_cost, volunteer_id)
                if best is None or extra < best.marginal_cost:
                    best = Taker(extra, volunteer_id, pair_cost)
        if best is None or best.marginal_cost >= rules.seat_cost(role):
            break
        plan.add(best.volunteer_id, role, best.pair_cost)


# Coverers tried per session in exchange_for_needs, cheapest first.
EXCHANGE_COVERERS = 8


class Exchange(NamedTuple):
    change: int
    volunteer_id: int
    role: Role
    pair_cost: int


def exchange_for_needs(plan: WorkingPlan, closed: set[int]) -> bool:
    """Sessions with needs left without proposals (never staffed, or dropped) get a
    coverer from wherever they are: their clashing proposals give way (a session that
    loses its only coverer there loses its proposals), the rest of the session is filled,
    and the exchange is kept when the whole change lowers the objective. Each coverer is
    tried on a tentative change (begin/rollback), the best one is made again. What the
    one-coverer-at-a-time moves of cover_needs cannot see: a signer who should leave a
    smaller session for a larger one. Returns whether the plan changed."""
    rules = plan.rules
    worth: dict[int, int] = {}
    for session in plan.sessions:
        if session.needs and not plan.proposed_in(session.id):
            seats = sum(
                plan.free_seats(plan.roles[j]) * rules.seat_cost(plan.roles[j])
                for j in plan.roles_of[session.id]
            )
            if seats > 0 and plan.missing_needs(session):
                worth[session.id] = seats
    changed = False
    for session_id in sorted(worth, key=lambda s: (-worth[s], s)):
        session = rules.session[session_id]
        if plan.proposed_in(session_id):
            continue
        need = min(plan.missing_needs(session))
        options: dict[int, tuple[int, Role]] = {}
        for j in plan.roles_of[session_id]:
            role = plan.roles[j]
            if plan.free_seats(role) <= 0:
                continue
            for pair_cost, volunteer_id in plan.coverers(j, need):
                if (volunteer_id, session_id) in plan.refused:
                    continue
                if volunteer_id not in options or pair_cost < options[volunteer_id][0]:
                    options[volunteer_id] = (pair_cost, role)
        tried = sorted(options.items(), key=lambda o: (o[1][0], o[0]))[:EXCHANGE_COVERERS]
        best: Exchange | None = None
        for volunteer_id, (pair_cost, role) in tried:
            plan.begin()
            done = _staff_around(plan, session, volunteer_id, role, pair_cost)
            change = plan.change
            plan.rollback()
            if done and change < (best.change if best else 0):
                best = Exchange(change, volunteer_id, role, pair_cost)
        if best is None:
            continue
        plan.begin()
        _staff_around(plan, session, best.volunteer_id, best.role, best.pair_cost)
        plan.commit()
        closed.discard(session_id)
        changed = True
    return changed


def _staff_around(
    plan: WorkingPlan, session: Session, volunteer_id: int, role: Role, pair_cost: int
) -> bool:
    """Brings `volunteer_id` into `role` of `session` whatever they hold that is in the
    way, covers the session's other needs, refills or drops what they left and fills the
    session. False when the session's needs cannot all be covered."""
    rules = plan.rules
    left: list[Role] = []
    for held_id in sorted(plan.held[volunteer_id]):
        held = rules.role[held_id]
        if rules.conflict(session, rules.session[held.session_id]):
            plan.remove(volunteer_id, held)
            left.append(held)
    if not plan.fits(volunteer_id, session):
        # A full week: give up the proposal of the week whose empty seat costs least.
        same_week = [
            rules.role[r]
            for r in plan.held[volunteer_id]
            if rules.session[rules.role[r].session_id].week == session.week
        ]
        if not same_week:
            return False
        held = min(same_week, key=lambda r: (rules.seat_cost(r), r.id))
        plan.remove(volunteer_id, held)
        left.append(held)
        if not plan.fits(volunteer_id, session):
            return False
    plan.add(volunteer_id, role, pair_cost)
    for need in sorted(plan.missing_needs(session)):
        if need in plan.missing_needs(session) and not _add_coverer(plan, session, need):
            if _move_coverer(plan, session, need) is None:
                return False
    if plan.missing_needs(session):
        return False
    # The session's seats first (by a free volunteer, or one moved from a seat that
    # counts for less), so that refilling what the coverer left cannot take them back.
    for j in plan.roles_of[session.id]:
        role = plan.roles[j]
        while plan.free_seats(role) > 0:
            free = plan.free_seats(role)
            repair.fill(plan, role, repair.Repair())
            if plan.free_seats(role) == free:
                break
    for held in left:
        there = rules.session[held.session_id]
        # A session left without its coverer takes another (from a free seat or moved
        # from elsewhere: a chain of two) or loses its proposals.
        for need in sorted(plan.missing_needs(there)):
            if need in plan.missing_needs(there) and not _add_coverer(plan, there, need):
                _move_coverer(plan, there, need)
        if plan.missing_needs(there):
            for other, other_role in plan.proposed_in(there.id):
                plan.remove(other, rules.role[other_role])
        elif plan.free_seats(held) > 0:
            repair.fill(plan, held, repair.Repair())
    return not plan.missing_needs(session)


# Proposed volunteers tried per empty seat in fill_by_chains, cheapest first.
CHAIN_MOVERS = 12


class Chain(NamedTuple):
    change: int
    mover: int
    held: Role
    pair_cost: int


def fill_by_chains(plan: WorkingPlan, closed: Set[int] = frozenset()) -> None:
    """Seats still empty (of sessions not `closed`): three-way moves. A proposed
    volunteer moves to the empty seat and the seat they leave is filled by `repair.fill`
    (a free volunteer, or another proposed one whose seat a free one takes), each chain
    tried on a tentative change and the best kept when it lowers the objective. Finds
    what a move with a direct refill (fill_by_moves) cannot: the expert who can take the
    empty lead seat holds one only another proposed expert can take over."""
    rules = plan.rules
    open_roles = sorted(
        (plan.roles[j] for j in _open_roles(plan, closed)),
        key=lambda r: (-rules.seat_cost(r), r.id),
    )
    for role in open_roles:
        session = rules.session[role.session_id]
        j = plan.role_index[role.id]
        while plan.free_seats(role) > 0:
            missing = plan.missing_needs(session)
            best: Chain | None = None
            movers = 0
            for pair_cost, mover in repair._with_proposals(plan, j):
                if movers >= CHAIN_MOVERS:
                    break
                if (mover, session.id) in plan.refused:
                    continue
                if missing and not missing & rules.volunteer[mover].accessibility:
                    continue
                for held_id in sorted(plan.held[mover]):
                    held = rules.role[held_id]
                    there = rules.session[held.session_id]
                    if there.id == session.id or not plan.fits(mover, session, ignoring=there):
                        continue
                    movers += 1
                    plan.begin()
                    _chain(plan, mover, held, role, pair_cost)
                    change = plan.change if not plan.missing_needs(there) else 0
                    plan.rollback()
                    if change < (best.change if best else 0):
                        best = Chain(change, mover, held, pair_cost)
            if best is None:
                break
            plan.begin()
            _chain(plan, best.mover, best.held, role, best.pair_cost)
            plan.commit()


# fill_by_paths: links of a path at most, and proposed volunteers tried per seat on it.
PATH_LINKS = 8
PATH_MOVERS = 30


class Link(NamedTuple):
    mover: int
    held: Role  # the seat the mover leaves (the next link's, or the free taker's)
    into: Role
    pair_cost: int


def fill_by_paths(plan: WorkingPlan, closed: Set[int] = frozenset()) -> None:
    """Seats still empty (of sessions not `closed`, needs covered): augmenting paths, as
    in a matching. A proposed volunteer moves into the empty seat, another into the
    seat they left, and so on, until a free volunteer takes the last seat; breadth
    first, so the shortest paths come first (a few kept per seat, the cheapest applied
    when it lowers the objective). Each volunteer moves at most once, so each move is
    checked against the plan as it stands. Finds what chains of three cannot when
    experts are at their weekly limits (tight seed 3: a lead seat five moves away)."""
    rules = plan.rules
    for j in _open_roles(plan, closed):
        role = plan.roles[j]
        session = rules.session[role.session_id]
        if plan.free_seats(role) > 0 and not plan.missing_needs(session):
            _augment(plan, role)


def _augment(plan: WorkingPlan, start: Role) -> None:
    rules = plan.rules
    queue: list[tuple[Role, tuple[Link, ...]]] = [(start, ())]
    seen = {start.id}
    found: list[tuple[tuple[Link, ...], Taker]] = []
    for role, path in queue:  # grows while read: breadth first
        if len(path) > PATH_LINKS or len(found) >= 3:
            break
        session = rules.session[role.session_id]
        used = {link.mover for link in path}
        j = plan.role_index[role.id]
        if path:
            taker = repair.best_free(plan, j, session, frozenset(), path[-1].mover)
            if taker is not None and taker.volunteer_id not in used:
                found.append((path, taker))
        movers = 0
        for pair_cost, mover in repair._with_proposals(plan, j):
            if movers >= PATH_MOVERS:
                break
            if mover in used or (mover, session.id) in plan.refused:
                continue
            for held_id in sorted(plan.held[mover]):
                held = rules.role[held_id]
                there = rules.session[held.session_id]
                if held.id in seen or there.id == session.id:
                    continue
                if not plan.fits(mover, session, ignoring=there):
                    continue
                if there.needs and plan.missing_needs(there, without=mover):
                    continue
                movers += 1
                seen.add(held.id)
                queue.append((held, (*path, Link(mover, held, role, pair_cost))))
    best: tuple[int, tuple[Link, ...], Taker] | None = None
    for path, taker in found:
        plan.begin()
        _walk(plan, path, taker)
        change = plan.change
        plan.rollback()
        if change < (best[0] if best else 0):
            best = (change, path, taker)
    if best is not None:
        plan.begin()
        _walk(plan, best[1], best[2])
        plan.commit()


def _walk(plan: WorkingPlan, path: tuple[Link, ...], taker: Taker) -> None:
    for link in path:
        plan.remove(link.mover, link.held)
    for link in path:
        plan.add(link.mover, link.into, link.pair_cost)
    plan.add(taker.volunteer_id, path[-1].held, taker.pair_cost)


def _chain(plan: WorkingPlan, mover: int, held: Role, role: Role, pair_cost: int) -> None:
    plan.remove(mover, held)
    plan.add(mover, role, pair_cost)
    repair.fill(plan, held, repair.Repair())


def upgrade_roles(plan: WorkingPlan) -> None:
    """A proposed volunteer takes a free seat of a dearer role of the same session (an
    expert signer in the lead's seat rather than the interpreter's when an empty lead
    seat counts for more), and the seat they leave is refilled if possible: nobody
    else's plan changes, the session's needs stay covered, and the objective falls by
    the difference at least."""
    rules = plan.rules
    for volunteer_id, role_id in sorted(plan.proposals):
        if (volunteer_id, role_id) not in plan.proposals:
            continue
        role = rules.role[role_id]
        better = [
            plan.roles[j]
            for j in plan.roles_of[role.session_id]
            if plan.roles[j].id != role_id
            and plan.free_seats(plan.roles[j]) > 0
            and rules.seat_cost(plan.roles[j]) > rules.seat_cost(role)
            and rules.qualified(rules.volunteer[volunteer_id], plan.roles[j])
        ]
        if not better:
            continue
        dearer = max(better, key=lambda r: (rules.seat_cost(r), -r.id))
        pair_cost = plan.remove(volunteer_id, role)
        plan.add(volunteer_id, dearer, pair_cost)
        repair.fill(plan, role, repair.Repair())


def swap_in_needs(plan: WorkingPlan) -> None:
    """In sessions with needs, a proposed volunteer gives their seat to a cheaper one
    when the needs stay covered (the flow's bonus for coverers can seat a second coverer
    where one already covers everything). Each swap is a tentative change kept only when
    it lowers the objective."""
    rules = plan.rules
    for volunteer_id, role_id in sorted(plan.proposals):
        role = rules.role[role_id]
        session = rules.session[role.session_id]
        if not session.needs or (volunteer_id, role_id) not in plan.proposals:
            continue
        # Only a coverer whose needs someone else covers too (the bonus's second one).
        if not session.needs & rules.volunteer[volunteer_id].accessibility or (
            plan.missing_needs(session, without=volunteer_id)
        ):
            continue
        plan.begin()
        plan.remove(volunteer_id, role)
        plan.refused.add((volunteer_id, session.id))  # not straight back in
        repair.fill(plan, role, repair.Repair())
        plan.refused.discard((volunteer_id, session.id))
        if plan.change < 0 and not plan.missing_needs(session):
            plan.commit()
        else:
            plan.rollback()


def replace_by_cheaper(plan: WorkingPlan) -> int:
    """A proposed volunteer gives their seat to a free one who costs less there, their
    own load counted (a seat of a large problem's flow whose cheaper takers were outside
    its view). The session's needs stay covered; an earlier proposal moves only for more
    than its keep bonus. Returns the objective's change."""
    rules = plan.rules
    earlier = {(b.volunteer_id, b.role_id) for b in rules.problem.bookings if not b.fixed}
    keep = rules.weights.keep_bonus
    load_step = rules.load_cost(2)  # what one more session adds, per session held
    total = 0
    for volunteer_id, role_id in sorted(plan.proposals):
        pair_cost = plan.proposals.get((volunteer_id, role_id))
        if pair_cost is None:
            continue
        role = rules.role[role_id]
        session = rules.session[role.session_id]
        if session.needs and plan.missing_needs(session, without=volunteer_id):
            continue
        # What the seat costs now, the volunteer's load counted.
        cost_now = pair_cost + rules.load_cost(plan.load[volunteer_id])
        now = cost_now
        if (volunteer_id, role_id) in earlier:
            now -= (keep + SCALE - 1) // SCALE
        # Candidates are cheapest first: only those below `now` can do better.
        j = plan.role_index[role_id]
        lo = plan.c_start[j]
        hi = lo + int(np.searchsorted(plan.c_cost[lo : plan.c_start[j + 1]], now))
        if hi == lo:
            continue
        marginal = plan.c_cost[lo:hi] + load_step * plan.load_at[plan.c_index[lo:hi]]
        best: tuple[int, int, int] | None = None
        cheaper = np.flatnonzero(marginal < now)
        for at in cheaper[np.argsort(marginal[cheaper], kind="stable")]:
            other = int(plan.c_vol[lo + at])
            if other == volunteer_id or (other, session.id) in plan.refused:
                continue
            if plan.fits(other, session):
                best = (int(marginal[at]), other, int(plan.c_cost[lo + at]))
                break
        if best is None:
            continue
        plan.remove(volunteer_id, role)
        plan.add(best[1], role, best[2])
        total += best[0] - cost_now
    return total
