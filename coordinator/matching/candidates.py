"""Every (volunteer, role) pair the hard rules allow, with its cost, built with numpy.

Per-pair rules live in constraints.py; this module computes the same answers for whole
columns of volunteers at once, because the large plans have millions of pairs.
It also groups each volunteer's pairs into *clusters*: runs of sessions close enough in
time that the volunteer can take at most one of them. Separate clusters never clash, so
"at most one per cluster" makes double booking impossible inside the flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coordinator.matching.constraints import Rules
from coordinator.matching.problem import EXPERT_ROLES, ROLE_ACCESSIBILITY, Problem

FAR = np.int16(1000)


@dataclass
class Candidates:
    vol: np.ndarray  # index into problem.volunteers
    role: np.ndarray  # index into problem.roles
    session: np.ndarray  # index into problem.sessions
    cost: np.ndarray  # pair cost in points (load and empty seats are costed apart)
    cluster: np.ndarray  # per pair: its cluster id
    cluster_week: np.ndarray  # per cluster: its (volunteer, week) id
    week_vol: np.ndarray  # per (volunteer, week) id: the volunteer index
    week_cap: np.ndarray  # per (volunteer, week) id: sessions still allowed that week
    excluded: dict[str, int]  # pairs dropped per reason, for explanations

    def __len__(self) -> int:
        return len(self.vol)


def _membership(items: list[frozenset], universe: list[str]) -> np.ndarray:
    """Boolean matrix [item, code]: does item's set contain code."""
    column = {code: i for i, code in enumerate(universe)}
    matrix = np.zeros((len(items), max(len(universe), 1)), dtype=bool)
    for row, codes in enumerate(items):
        for code in codes:
            if code in column:
                matrix[row, column[code]] = True
    return matrix


def build(problem: Problem, rules: Rules) -> Candidates:
    vols, sessions, roles, w = problem.volunteers, problem.sessions, problem.roles, problem.weights
    n_vol = len(vols)
    vol_ids = np.array([v.id for v in vols], dtype=np.int64)
    mapped = set(problem.neighbours).union(*problem.neighbours.values())
    wards = sorted({v.home_ward for v in vols} | {s.ward for s in sessions} | mapped)
    ward_col = {code: i for i, code in enumerate(wards)}
    hops = np.full((len(wards), len(wards)), FAR, dtype=np.int16)
    for origin, reach in rules.hops.items():
        for target, steps in reach.items():
            hops[ward_col[origin], ward_col[target]] = steps
    np.fill_diagonal(hops, 0)
    home = np.array([ward_col[v.home_ward] for v in vols], dtype=np.int64)

    topics = sorted({s.topic for s in sessions})
    groups = sorted({s.target_group for s in sessions})
    languages = sorted({code for s in sessions for code in s.languages})
    pref_ward = _membership([v.preferred_wards for v in vols], wards)
    pref_topic = _membership([v.preferred_topics for v in vols], topics)
    pref_group = _membership([v.preferred_groups for v in vols], groups)
    speaks = _membership([v.languages for v in vols], languages)
    has_pref = np.array(
        [
            [bool(v.preferred_wards), bool(v.preferred_topics), bool(v.preferred_groups)]
            for v in vols
        ],
        dtype=bool,
    ).reshape(n_vol, 3)
    squad_members: dict[int, list[int]] = {}
    for i, v in enumerate(vols):
        for squad in v.squads:
            squad_members.setdefault(squad, []).append(i)
    vol_index = {v.id: i for i, v in enumerate(vols)}

    # Weekly windows as flat columns.
    win = [(i, x.weekday, x.start, x.end) for i, v in enumerate(vols) for x in v.windows]
    win_arr = np.array(win, dtype=np.int64).reshape(-1, 4)
    available_at: dict[tuple[int, int, int], np.ndarray] = {}
    steps_to: dict[str, np.ndarray] = {}
    qualified_for: dict[tuple, np.ndarray] = {}

    parts_vol, parts_role, parts_session, parts_cost = [], [], [], []
    roles_of: dict[int, list[int]] = {}
    for j, role in enumerate(roles):
        if role.seats > 0:
            roles_of.setdefault(role.session_id, []).append(j)
    excluded = {"unavailable": 0, "too_far": 0, "unqualified": 0}

    for k, s in enumerate(sessions):
        role_idx = roles_of.get(s.id)
        if not role_idx:
            continue
        key = (s.weekday, s.local_start, s.local_end)
        if key not in available_at:
            mask = np.zeros(n_vol, dtype=bool)
            hit = (
                (win_arr[:, 1] == s.weekday)
                & (win_arr[:, 2] <= s.local_start)
                & (win_arr[:, 3] >= s.local_end)
            )
            mask[win_arr[hit, 0]] = True
            available_at[key] = np.flatnonzero(mask)  # the few free then, not all
        if s.ward not in steps_to:  # per ward, not per session: thousands share a ward
            steps_to[s.ward] = hops[home, ward_col[s.ward]]
        free = available_at[key]
        steps = steps_to[s.ward][free]
        near = steps <= w.max_ward_hops
        excluded["unavailable"] += n_vol - free.size
        excluded["too_far"] += int(free.size - near.sum())
        base, steps = free[near], steps[near]
        if base.size == 0:
            continue
        cost = np.where(steps == 0, 0, np.where(steps == 1, w.neighbour_ward, w.far_ward))
        miss = np.zeros(base.size, dtype=np.int64)
        miss += has_pref[base, 0] & ~pref_ward[base, ward_col[s.ward]]
        miss += has_pref[base, 1] & ~pref_topic[base, topics.index(s.topic)]
        miss += has_pref[base, 2] & ~pref_group[base, groups.index(s.target_group)]
        cost = cost + miss * w.missed_preference
        if s.languages:
            cols = [languages.index(code) for code in s.languages]
            cost = cost + np.where(speaks[base][:, cols].any(axis=1), 0, w.language_mismatch)
        if s.series_people:
            cost = cost + np.where(
                np.isin(vol_ids[base], list(s.series_people)), 0, w.series_change
            )
        if s.squads:
            members = [i for squad in s.squads for i in squad_members.get(squad, ())]
            cost = cost + np.where(np.isin(base, members), 0, w.squad_split)
        for j in role_idx:
            role = roles[j]
            rkey = (role.name in EXPERT_ROLES, role.required_skills, role.name)
            if rkey not in qualified_for:
                needs_access = ROLE_ACCESSIBILITY.get(role.name, frozenset())
                qualified_for[rkey] = np.array(
                    [
                        role.required_skills <= v.skills
                        and (not rkey[0] or v.is_expert)
                        and needs_access <= v.accessibility
                        for v in vols
                    ],
                    dtype=bool,
                )
            ok = qualified_for[rkey][base]
            excluded["unqualified"] += int((~ok).sum())
            chosen = base[ok]
            parts_vol.append(chosen)
            parts_role.append(np.full(chosen.size, j, dtype=np.int64))
            parts_session.append(np.full(chosen.size, k, dtype=np.int64))
            parts_cost.append(cost[ok])

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    vol, role, sess, cost = cat(parts_vol), cat(parts_role), cat(parts_session), cat(parts_cost)
    keep = _without_fixed_clashes(problem, rules, vol_index, vol, sess, excluded)
    vol, role, sess, cost = vol[keep], role[keep], sess[keep], cost[keep]
    return _clustered(problem, rules, vol, role, sess, cost, excluded)


def _without_fixed_clashes(problem, rules, vol_index, vol, sess, excluded) -> np.ndarray:
    """Drop refused pairs, and pairs that clash with a fixed booking or exceed a week's
    remaining limit."""
    keep = np.ones(vol.size, dtype=bool)
    if problem.refused and vol.size:
        vol_ids = np.array([v.id for v in problem.volunteers], dtype=np.int64)
        session_ids = np.array([s.id for s in problem.sessions], dtype=np.int64)
        key = vol_ids[vol] * (1 << 32) + session_ids[sess]
        refused = np.isin(key, [v * (1 << 32) + s for v, s in problem.refused])
        excluded["refused"] = int(refused.sum())
        keep &= ~refused
    fixed = rules.fixed_sessions
    if not fixed or vol.size == 0:
        return keep
    touched = np.isin(vol, [vol_index[v] for v in fixed if v in vol_index])
    sessions = problem.sessions
    for p in np.flatnonzero(touched):
        volunteer = problem.volunteers[vol[p]]
        s = sessions[sess[p]]
        booked = [rules.session[i] for i in fixed[volunteer.id]]
        if any(rules.conflict(s, b) for b in booked):
            keep[p] = False
            excluded["clash"] = excluded.get("clash", 0) + 1
        elif sum(1 for b in booked if b.week == s.week) >= volunteer.max_per_week:
            keep[p] = False
            excluded["weekly_limit"] = excluded.get("weekly_limit", 0) + 1
    return keep


def _clustered(problem, rules, vol, role, sess, cost, excluded) -> Candidates:
    sessions = problem.sessions
    start = np.array([s.start for s in sessions], dtype=np.int64)[sess] if sess.size else sess
    end = np.array([s.end for s in sessions], dtype=np.int64)[sess] if sess.size else sess
    week = np.array([s.week for s in sessions], dtype=np.int64)[sess] if sess.size else sess
    order = np.lexsort((role, start, vol))
    vol, role, sess, cost = vol[order], role[order], sess[order], cost[order]
    start, end, week = start[order], end[order], week[order]
    n = vol.size
    gap = problem.travel_gap
    # Running latest end within each volunteer (offset per volunteer keeps the max local).
    offset = vol * (1 << 40)
    running_end = np.maximum.accumulate(end + offset) - offset if n else end
    new_vol = np.ones(n, dtype=bool)
    new_vol[1:] = vol[1:] != vol[:-1]
    new_week = np.ones(n, dtype=bool)
    new_week[1:] = week[1:] != week[:-1]
    apart = np.ones(n, dtype=bool)
    apart[1:] = start[1:] >= running_end[:-1] + gap
    cluster = np.cumsum(new_vol | new_week | apart) - 1
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]]) if n else cluster
    vw_key = (vol[first] << 32) + week[first] if n else first
    uniq, cluster_week = np.unique(vw_key, return_inverse=True)
    week_vol = uniq >> 32
    week_of = uniq & 0xFFFFFFFF
    limit = np.array([v.max_per_week for v in problem.volunteers], dtype=np.int64)
    week_cap = limit[week_vol] if n else week_vol
    if rules.fixed_sessions and n:
        for i, (v, wk) in enumerate(zip(week_vol, week_of, strict=True)):
            fixed = rules.fixed_sessions.get(problem.volunteers[v].id)
            if fixed:
                week_cap[i] -= sum(1 for s in fixed if rules.session[s].week == wk)
    return Candidates(
        vol=vol,
        role=role,
        session=sess,
        cost=cost.astype(np.int64),
        cluster=cluster.astype(np.int64),
        cluster_week=cluster_week.astype(np.int64),
        week_vol=week_vol.astype(np.int64),
        week_cap=np.maximum(week_cap, 0).astype(np.int64),
        excluded=excluded,
    )
