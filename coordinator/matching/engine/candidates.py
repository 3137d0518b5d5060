"""Every (volunteer, role) pair the hard rules allow, with its cost, built with numpy.

Per-pair rules live in constraints.py; this module computes the same answers for all
pairs at once, because the large plans have millions of them. No loop runs per session
or per pair, and nothing of that size is sorted: each volunteer's free time slots are
joined with a table of the sessions near their home ward per slot, which yields the
(volunteer, session) pairs already in (volunteer, start) order; they are then costed and
expanded into roles as whole columns.
It also groups each volunteer's pairs into *clusters*: runs of sessions close enough in
time that the volunteer can take at most one of them. Separate clusters never clash, so
"at most one per cluster" makes double booking impossible inside the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.keys import first_of, keys_of, pair_keys
from coordinator.matching.engine.problem import (
    DAY,
    EXPERT_ROLES,
    ROLE_ACCESSIBILITY,
    Problem,
    Volunteer,
)

FAR = np.int16(1000)
Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Excluded = dict[str, int]  # pairs dropped per reason, for explanations


@dataclass(frozen=True, slots=True)
class Candidates:
    """The allowed (volunteer, role) pairs as columns, one row per pair, sorted by
    volunteer then by the session's start (see the module's docstring)."""

    vol: Int32s  # index into problem.volunteers
    role: Int32s  # index into problem.roles
    session: Int32s  # index into problem.sessions
    cost: Int32s  # pair cost in points (load and empty seats are costed apart)
    cluster: Int32s  # per pair: its cluster id
    cluster_week: Int64s  # per cluster: its (volunteer, week) id
    week_vol: Int64s  # per (volunteer, week) id: the volunteer index
    week_cap: Int64s  # per (volunteer, week) id: sessions still allowed that week
    excluded: Excluded
    # Pair indices by (role, cost, then volunteers with fewer pairs first), and where each
    # role's run starts: the flow's cheapest pairs per role and the finishing's lists;
    # in that order too, the volunteer (index and id) and cost of each pair.
    by_role: Int32s
    role_start: Int64s
    by_role_vol: Int32s
    by_role_vol_id: Int64s
    by_role_cost: Int32s

    def __len__(self) -> int:
        return len(self.vol)


class Clusters(NamedTuple):
    """Per unit its cluster; per cluster its (volunteer, week) id; per (volunteer, week)
    id the volunteer and the sessions still allowed that week."""

    cluster: Int64s
    cluster_week: Int64s
    week_vol: Int64s
    week_cap: Int64s


def _membership(items: list[frozenset[str]], universe: list[str]) -> Bools:
    """Boolean matrix [item, code]: does item's set contain code."""
    column = {code: i for i, code in enumerate(universe)}
    matrix = np.zeros((len(items), max(len(universe), 1)), dtype=bool)
    for row, codes in enumerate(items):
        for code in codes:
            if code in column:
                matrix[row, column[code]] = True
    return matrix


def expand(starts: Int64s, counts: Int64s) -> Int64s:
    """The positions starts[i] .. starts[i] + counts[i] - 1 of every i, in order."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total)


class _Tables:
    """The problem as arrays: volunteers' and sessions' attributes by index."""

    def __init__(self, problem: Problem, rules: Rules) -> None:
        vols, sessions = problem.volunteers, problem.sessions
        self.n_vol = len(vols)
        self.vol_ids = np.array([v.id for v in vols], dtype=np.int64)
        mapped = set(problem.neighbours).union(*problem.neighbours.values())
        wards = sorted({v.home_ward for v in vols} | {s.ward for s in sessions} | mapped)
        self.ward_col = {code: i for i, code in enumerate(wards)}
        hops = np.full((len(wards), len(wards)), FAR, dtype=np.int16)
        for origin, reach in rules.hops.items():
            for target, steps in reach.items():
                hops[self.ward_col[origin], self.ward_col[target]] = steps
        np.fill_diagonal(hops, 0)
        self.hops = hops  # [home ward, session ward]
        # Wards next to each other (as Rules.conflict reads the map: from the first).
        near = np.eye(len(wards), dtype=bool)
        for origin, nbrs in problem.neighbours.items():
            for other in nbrs:
                near[self.ward_col[origin], self.ward_col[other]] = True
        self.next_to = near
        self.home = np.array([self.ward_col[v.home_ward] for v in vols], dtype=np.int64)
        self.s_ward = np.array([self.ward_col[s.ward] for s in sessions], dtype=np.int64)
        self.s_start = np.array([s.start for s in sessions], dtype=np.int64)
        self.s_end = np.array([s.end for s in sessions], dtype=np.int64)
        self.s_week = np.array([s.week for s in sessions], dtype=np.int64)
        self.s_ids = np.array([s.id for s in sessions], dtype=np.int64)
        self.limit = np.array([v.max_per_week for v in vols], dtype=np.int64)


def build(problem: Problem, rules: Rules) -> Candidates:
    t = _Tables(problem, rules)
    excluded = {"unavailable": 0, "too_far": 0, "unqualified": 0}
    # "Units" are (volunteer, session) pairs, in (volunteer, start, end, session) order:
    # the clusters need it, and every later step keeps it, so nothing large is sorted.
    vol, sess = _free_and_near(problem, t, excluded)
    keep = _without_refusals_and_fixed_clashes(problem, rules, t, vol, sess, excluded)
    vol, sess = vol[keep], sess[keep]
    unit, role = _qualified_roles(problem, vol, sess, excluded)
    staffed = np.zeros(vol.size, dtype=bool)
    staffed[unit] = True
    vol, sess = vol[staffed], sess[staffed]
    unit = (np.cumsum(staffed) - 1)[unit]
    cost = _pair_costs(problem, t, vol, sess)
    clusters = _clusters(rules, t, vol, sess)
    # The pairs' columns as int32: half the memory to fill, which a fresh process (a
    # worker's job) pays for page by page.
    small = np.int32
    pair_vol = vol.astype(small)[unit]
    pair_role = role.astype(small)
    pair_cost = cost.astype(small)[unit]
    by_role, role_start = _by_role(pair_vol, pair_role, pair_cost, len(problem.roles), t.n_vol)
    by_role_vol = pair_vol[by_role]
    return Candidates(
        vol=pair_vol,
        role=pair_role,
        session=sess.astype(small)[unit],
        cost=pair_cost,
        cluster=clusters.cluster.astype(small)[unit],
        cluster_week=clusters.cluster_week,
        week_vol=clusters.week_vol,
        week_cap=clusters.week_cap,
        excluded=excluded,
        by_role=by_role,
        role_start=role_start,
        by_role_vol=by_role_vol,
        by_role_vol_id=t.vol_ids[by_role_vol],
        by_role_cost=pair_cost[by_role],
    )


def _free_and_near(problem: Problem, t: _Tables, excluded: Excluded) -> tuple[Int64s, Int64s]:
    """(volunteer, session) index pairs, free at the session's time (a weekly window
    holds it) and near enough, for the sessions with an open role; sorted by volunteer,
    then by the session's start, end and index."""
    sessions, w = problem.sessions, problem.weights
    open_session = np.zeros(len(sessions), dtype=bool)
    index = {s.id: k for k, s in enumerate(sessions)}
    for role in problem.roles:
        if role.seats > 0 and role.session_id in index:
            open_session[index[role.session_id]] = True
    ks = np.flatnonzero(open_session)
    if ks.size == 0 or t.n_vol == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # Weekly times (weekday, local start, local end): a few hundred distinct ones.
    times = sorted(
        {(sessions[k].weekday, sessions[k].local_start, sessions[k].local_end) for k in ks}
    )
    free = _free_at(problem.volunteers, times)  # [volunteer, time]
    time_of = {key: i for i, key in enumerate(times)}
    k_time = np.array(
        [
            time_of[(sessions[k].weekday, sessions[k].local_start, sessions[k].local_end)]
            for k in ks
        ],
        dtype=np.int64,
    )
    # Slots: the open sessions' distinct (start, end) moments, in time order.
    moments, k_slot = np.unique(
        np.stack([t.s_start[ks], t.s_end[ks]], axis=1), axis=0, return_inverse=True
    )
    k_slot = k_slot.reshape(-1)
    n_slots = len(moments)
    slot_time = np.zeros(n_slots, dtype=np.int64)
    slot_time[k_slot] = k_time
    # Sessions by (home ward near enough, slot, session): one run per (ward, slot).
    reach = t.hops <= w.max_ward_hops  # [home ward, session ward]
    row, home = np.nonzero(reach.T[t.s_ward[ks]])
    table_key = home * n_slots + k_slot[row]
    order = np.lexsort((ks[row], table_key))
    table_sess, table_key = ks[row][order], table_key[order]
    runs = np.bincount(table_key, minlength=len(reach) * n_slots)
    run_start = np.cumsum(runs) - runs
    # Each volunteer's free slots with sessions near home, in (volunteer, slot) order.
    near = (runs > 0).reshape(len(reach), n_slots)
    vol, slot = np.nonzero(free[:, slot_time] & near[t.home])
    key = t.home[vol] * n_slots + slot
    found = runs[key]
    sess = table_sess[expand(run_start[key], found)]
    vol = np.repeat(vol, found)
    free_count = free.sum(axis=0)[k_time]
    near_count = np.bincount(sess, minlength=len(sessions))[ks]
    excluded["unavailable"] += int((t.n_vol - free_count).sum())
    excluded["too_far"] += int((free_count - near_count).sum())
    return vol, sess


def _free_at(volunteers: list[Volunteer], times: list[tuple[int, int, int]]) -> Bools:
    """Boolean matrix [volunteer, time]: a weekly span holds the time (see weekly_spans;
    a session may run past midnight)."""
    spans = [(i, s, e) for i, v in enumerate(volunteers) for s, e in v.spans]
    arr = np.array(spans, dtype=np.int64).reshape(-1, 3)
    free = np.zeros((len(volunteers), len(times)), dtype=bool)
    # A span can only hold a time that starts on a day the span touches.
    first_day, last_day = arr[:, 1] // DAY, (arr[:, 2] - 1) // DAY
    on_day = {
        day: arr[(first_day <= day) & (day <= last_day)] for day in {day for day, _, _ in times}
    }
    for i, (day, start, end) in enumerate(times):
        candidates = on_day[day]
        begin, finish = day * DAY + start, day * DAY + end
        free[candidates[(candidates[:, 1] <= begin) & (candidates[:, 2] >= finish), 0], i] = True
    return free


def _without_refusals_and_fixed_clashes(
    problem: Problem, rules: Rules, t: _Tables, vol: Int64s, sess: Int64s, excluded: Excluded
) -> Bools:
    """Drop refused pairs, and pairs that clash with a fixed booking or exceed a week's
    remaining limit (Rules.conflict and the weekly limit, as columns)."""
    keep = np.ones(vol.size, dtype=bool)
    vol_index = {v: i for i, v in enumerate(t.vol_ids.tolist())}
    if problem.refused and vol.size:
        refusing = np.zeros(t.n_vol, dtype=bool)
        refusing[[vol_index[v] for v, _ in problem.refused if v in vol_index]] = True
        asked = np.flatnonzero(refusing[vol])
        key = pair_keys(t.vol_ids[vol[asked]], t.s_ids[sess[asked]])
        refused = asked[np.isin(key, keys_of(problem.refused))]
        excluded["refused"] = int(refused.size)
        keep[refused] = False
    session_index = {s: k for k, s in enumerate(t.s_ids.tolist())}
    fixed = [
        (vol_index[v], session_index[s])
        for v, sessions in rules.fixed_sessions.items()
        if v in vol_index
        for s in sessions
    ]
    if not fixed or vol.size == 0:
        full = t.limit[vol] <= 0  # a weekly limit of 0 allows nothing
        excluded["weekly_limit"] = int((full & keep).sum())
        return keep & ~full
    f_vol, f_sess = (np.array(column, dtype=np.int64) for column in zip(*fixed, strict=True))
    order = np.argsort(f_vol, kind="stable")
    f_vol, f_sess = f_vol[order], f_sess[order]
    per_vol = np.bincount(f_vol, minlength=t.n_vol)
    touched = np.flatnonzero(per_vol[vol])
    count = per_vol[vol[touched]]
    first = (np.cumsum(per_vol) - per_vol)[vol[touched]]
    # One row per (pair, fixed booking of its volunteer).
    row_pair = np.repeat(touched, count)
    other = f_sess[expand(first, count)]
    s = sess[row_pair]
    a_start, a_end, b_start, b_end = t.s_start[s], t.s_end[s], t.s_start[other], t.s_end[other]
    overlap = (s == other) | ((a_start < b_end) & (b_start < a_end))
    gap = problem.travel_gap
    travel = ~t.next_to[t.s_ward[s], t.s_ward[other]] & (
        (a_start < b_end + gap) & (b_start < a_end + gap)
    )
    clash = np.zeros(vol.size, dtype=bool)
    clash[row_pair[overlap | travel]] = True
    same_week = np.zeros(vol.size, dtype=np.int64)
    np.add.at(same_week, row_pair, t.s_week[s] == t.s_week[other])
    full = ~clash & (same_week >= t.limit[vol])
    excluded["clash"] = int((clash & keep).sum())
    excluded["weekly_limit"] = int((full & keep).sum())
    return keep & ~clash & ~full


def _pair_costs(problem: Problem, t: _Tables, vol: Int64s, sess: Int64s) -> Int64s:
    """Rules.pair_cost for every (volunteer, session) pair."""
    vols, sessions, w = problem.volunteers, problem.sessions, problem.weights
    travel = np.where(t.hops == 0, 0, np.where(t.hops == 1, w.neighbour_ward, w.far_ward))
    cost = travel.astype(np.int64)[t.home[vol], t.s_ward[sess]]
    topics = sorted({s.topic for s in sessions})
    groups = sorted({s.target_group for s in sessions})
    wards = sorted(t.ward_col, key=t.ward_col.__getitem__)
    topic_col = np.array([topics.index(s.topic) for s in sessions], dtype=np.int64)
    group_col = np.array([groups.index(s.target_group) for s in sessions], dtype=np.int64)
    for column, prefs, universe in (
        (t.s_ward, [v.preferred_wards for v in vols], wards),
        (topic_col, [v.preferred_topics for v in vols], topics),
        (group_col, [v.preferred_groups for v in vols], groups),
    ):
        has_pref = np.array([bool(p) for p in prefs], dtype=bool)
        if not has_pref.any():
            continue
        met = _membership(prefs, universe)
        which = np.flatnonzero(has_pref[vol])
        cost[which] += w.missed_preference * ~met[vol[which], column[sess[which]]]
    languages = sorted({code for s in sessions for code in s.languages})
    if languages:
        # Packed to bits: a byte per 8 languages and pair, not a bool per language.
        speaks = np.packbits(_membership([v.languages for v in vols], languages), axis=1)
        spoken = np.packbits(_membership([s.languages for s in sessions], languages), axis=1)
        shared = (speaks[vol] & spoken[sess]).any(axis=1)
        has_languages = np.array([bool(s.languages) for s in sessions], dtype=bool)
        cost += w.language_mismatch * (has_languages[sess] & ~shared)
    vol_index = {v: i for i, v in enumerate(t.vol_ids.tolist())}
    squad_members: dict[int, list[int]] = {}
    for i, v in enumerate(vols):
        for squad in v.squads:
            squad_members.setdefault(squad, []).append(i)
    series = {
        k: [vol_index[p] for p in s.series_people if p in vol_index]
        for k, s in enumerate(sessions)
        if s.series_people
    }
    squads = {
        k: [i for q in s.squads for i in squad_members.get(q, ())]
        for k, s in enumerate(sessions)
        if s.squads
    }
    cost += w.series_change * _outside(series, vol, sess, t.n_vol)
    cost += w.squad_split * _outside(squads, vol, sess, t.n_vol)
    return cost


def _outside(members: dict[int, list[int]], vol: Int64s, sess: Int64s, n_vol: int) -> Bools:
    """Pairs whose session has members (session index -> volunteer indices) and whose
    volunteer is not one of them."""
    out = np.zeros(vol.size, dtype=bool)
    if not members:
        return out
    asks = np.zeros(int(sess.max(initial=0)) + 1, dtype=bool)
    asks[[k for k in members if k < asks.size]] = True
    which = np.flatnonzero(asks[sess])
    keys = np.unique([k * n_vol + i for k, people in members.items() for i in people])
    asked = sess[which] * n_vol + vol[which]
    at = np.minimum(np.searchsorted(keys, asked), max(keys.size - 1, 0))
    member = keys[at] == asked if keys.size else np.zeros(which.size, dtype=bool)
    out[which] = ~member
    return out


def _qualified_roles(
    problem: Problem, vol: Int64s, sess: Int64s, excluded: Excluded
) -> tuple[npt.NDArray[np.intp], Int32s]:
    """The (unit, role) pairs: each (volunteer, session) unit once per open role of the
    session the volunteer is qualified for, in (unit, role index) order."""
    vols, roles = problem.volunteers, problem.roles
    index = {s.id: k for k, s in enumerate(problem.sessions)}
    open_roles: dict[int, list[int]] = {}
    for j, r in enumerate(roles):
        if r.seats > 0 and r.session_id in index:
            open_roles.setdefault(index[r.session_id], []).append(j)
    width = max((len(js) for js in open_roles.values()), default=0)
    # The sessions' open roles as a table [session, slot] (-1 where a session has fewer).
    role_at = np.full((len(problem.sessions), max(width, 1)), -1, dtype=np.int32)
    for k, js in open_roles.items():
        role_at[k, : len(js)] = js
    # Who is qualified, per kind of role (skills, expert, accessibility).
    kinds: dict[tuple[bool, frozenset[str], frozenset[str]], int] = {}
    role_kind = np.zeros(len(roles) + 1, dtype=np.int64)  # the last one: "no role"
    for j, r in enumerate(roles):
        key = (
            r.name in EXPERT_ROLES,
            r.required_skills,
            ROLE_ACCESSIBILITY.get(r.name, frozenset()),
        )
        role_kind[j] = kinds.setdefault(key, len(kinds))
    role_kind[-1] = len(kinds)
    qualified = np.zeros((len(kinds) + 1, len(vols)), dtype=bool)
    expert = np.array([v.is_expert for v in vols], dtype=bool)
    for (needs_expert, skills, access), k in kinds.items():
        qualified[k] = np.array(
            [skills <= v.skills and access <= v.accessibility for v in vols], dtype=bool
        ) & (expert | (not needs_expert))
    # Small integers per [unit, slot]: the millions of units are not copied as int64.
    kind_at = role_kind[role_at].astype(np.min_scalar_type(len(kinds)))
    ok = qualified[kind_at[sess], vol[:, None]]
    asked = int(np.count_nonzero(role_at >= 0, axis=1)[sess].sum())
    excluded["unqualified"] += asked - int(np.count_nonzero(ok))
    unit, slot = np.nonzero(ok)
    return unit, role_at[sess[unit], slot]


def _clusters(rules: Rules, t: _Tables, vol: Int64s, sess: Int64s) -> Clusters:
    """Clusters of units sorted by (volunteer, session start)."""
    start, end, week = t.s_start[sess], t.s_end[sess], t.s_week[sess]
    n = vol.size
    # Running latest end within each volunteer (offset per volunteer keeps the max local).
    offset = vol * (1 << 40)
    running_end = np.maximum.accumulate(end + offset) - offset if n else end
    new_vol = np.ones(n, dtype=bool)
    new_vol[1:] = vol[1:] != vol[:-1]
    new_week = np.ones(n, dtype=bool)
    new_week[1:] = week[1:] != week[:-1]
    apart = np.ones(n, dtype=bool)
    apart[1:] = start[1:] >= running_end[:-1] + rules.problem.travel_gap
    cluster = np.cumsum(new_vol | new_week | apart) - 1
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]]) if n else cluster
    vw_key = pair_keys(vol[first], week[first]) if n else first
    uniq, cluster_week = np.unique(vw_key, return_inverse=True)
    week_vol = first_of(uniq)
    week_cap = t.limit[week_vol].copy()
    if rules.fixed_sessions and n:
        # Fixed bookings use up their week: (volunteer index, week) keys, counted.
        vol_index = {v: i for i, v in enumerate(t.vol_ids.tolist())}
        fixed = keys_of(
            (vol_index[v], rules.session[s].week)
            for v, sessions in rules.fixed_sessions.items()
            if v in vol_index
            for s in sessions
        )
        fixed = fixed[np.isin(fixed, uniq)]
        week_cap -= np.bincount(np.searchsorted(uniq, fixed), minlength=uniq.size)
    return Clusters(
        cluster=cluster.astype(np.int64),
        cluster_week=cluster_week.astype(np.int64),
        week_vol=week_vol.astype(np.int64),
        week_cap=np.maximum(week_cap, 0).astype(np.int64),
    )


def _by_role(
    vol: Int32s, role: Int32s, cost: Int32s, n_roles: int, n_vol: int
) -> tuple[Int32s, Int64s]:
    """Pairs sorted by (role, cost), ties going to volunteers with fewer pairs: the
    cheapest pairs kept per role then spread over many volunteers instead of the same
    few, and a volunteer with many options is left for later."""
    pairs = np.bincount(vol, minlength=n_vol)
    rank = np.empty(n_vol, dtype=np.int64)
    rank[np.lexsort((np.arange(n_vol), pairs))] = np.arange(n_vol)
    key = role.astype(np.int64) << 40
    key |= np.minimum(cost, 0xFFFF).astype(np.int64) << 24
    key |= rank[vol]
    order = np.argsort(key).astype(np.int32)
    starts = np.r_[0, np.cumsum(np.bincount(role, minlength=n_roles))].astype(np.int64)
    return order, starts
