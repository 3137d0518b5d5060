"""Benchmark of the matching engine (coordinator/matching/engine) on synthetic problems.

For each size (see bench/matching_instances.py), in a fresh subprocess so that peak
memory is per size: the engine's wall time, seats filled and objective; the proven
optimum of the same objective by an exact MIP (HiGHS), or its LP bound for `large`;
re-solve stability; and repairs after single withdrawals (speed, people touched, and
quality against a full re-solve).

    PYTHONPATH=. .venv/bin/python bench/matching.py [--sizes small,medium,large,tight]
        [--seed 1] [--no-mip] [--mip-time 300]

Across instance families and seeds (see FAMILIES in bench/matching_instances.py), with
only the engine and its references (no candidate check, re-solve or repairs), and a
summary per family and size for seeds 1-5 (where parameters are chosen) and 6-10:

    PYTHONPATH=. .venv/bin/python bench/matching.py --families today,doubles,scarce,wards
        --sizes medium,tight --seeds 1-10 --light [--runs 3] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.matching_instances import generate  # noqa: E402
from coordinator.matching.engine import candidates as candidate_pairs  # noqa: E402
from coordinator.matching.engine import repair, solver  # noqa: E402
from coordinator.matching.engine.constraints import Rules  # noqa: E402
from coordinator.matching.engine.problem import Booking  # noqa: E402

ENGINE_FILES = [
    f"{name}.py"
    for name in (
        "problem",
        "constraints",
        "candidates",
        "keys",
        "solver",
        "state",
        "repair",
        "explain",
    )
]
# The first run of a fresh process pays for touching new memory (large: 0.3-0.7 s on
# this VM): `walls` lists every run, the median is reported.
RUNS = {"small": 5, "medium": 5, "tight": 5, "large": 3}
REPAIRS = 200
QUALITY_SAMPLES = {"medium": 20, "tight": 20, "large": 10, "small": 0}


def engine_revision() -> str:
    """Short hash of the engine's sources: the figures belong to this revision."""
    digest = hashlib.sha1()
    folder = Path(solver.__file__).parent
    for name in ENGINE_FILES:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:10]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- candidates against the rules ------------------------------------------------------


def check_candidates(problem, rules, cands, sessions=None) -> dict:
    """Every candidate is allowed with the rules' own cost, and every allowed pair (open
    role, eligible, not refused, no clash with a fixed booking, week not full of fixed
    ones) is a candidate. `sessions`: the session ids to check (all by default)."""
    vol_ids = [v.id for v in problem.volunteers]
    have = {
        (vol_ids[v], problem.roles[r].id): int(c)
        for v, r, c in zip(cands.vol, cands.role, cands.cost, strict=True)
    }
    check = set(sessions) if sessions is not None else set(rules.session)
    fixed_of = {v: [rules.session[s] for s in ss] for v, ss in rules.fixed_sessions.items()}
    wrong_cost = missing = 0
    expected = 0
    for role in problem.roles:
        if role.session_id not in check or role.seats <= 0:
            continue
        session = rules.session[role.session_id]
        for v in problem.volunteers:
            if not rules.eligible(v, role) or (v.id, session.id) in problem.refused:
                continue
            booked = fixed_of.get(v.id, ())
            if any(rules.conflict(session, b) for b in booked):
                continue
            if sum(b.week == session.week for b in booked) >= v.max_per_week:
                continue
            expected += 1
            cost = have.get((v.id, role.id))
            if cost is None:
                missing += 1
            elif cost != rules.pair_cost(v, session):
                wrong_cost += 1
    extra = sum(
        1 for (v, r) in have if rules.role[r].session_id in check and not _allowed(rules, v, r)
    )
    return {"checked": expected, "missing": missing, "extra": extra, "wrong_cost": wrong_cost}


def _allowed(rules, volunteer_id, role_id) -> bool:
    role, v = rules.role[role_id], rules.volunteer[volunteer_id]
    session = rules.session[role.session_id]
    booked = [rules.session[s] for s in rules.fixed_sessions.get(volunteer_id, ())]
    return (
        role.seats > 0
        and rules.eligible(v, role)
        and (volunteer_id, session.id) not in rules.problem.refused
        and not any(rules.conflict(session, b) for b in booked)
        and sum(b.week == session.week for b in booked) < v.max_per_week
    )


# -- the exact model -------------------------------------------------------------------


class Rows:
    """Constraint rows collected as (row, column, value) triplets, with upper bounds."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.n = 0

    def add(self, rows, cols, vals, upper) -> None:
        """`rows` count from 0 within this block; `upper` has one bound per row."""
        self.r.append(np.asarray(rows, dtype=np.int64) + self.n)
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), len(self.c[-1])))
        self.upper.append(np.asarray(upper, dtype=np.float64))
        self.n += len(self.upper[-1])


def _expand(rows: np.ndarray, units: np.ndarray, unit_start: np.ndarray, unit_size: np.ndarray):
    """(row, unit) entries -> (row, pair) entries, pairs of a unit being contiguous."""
    size = unit_size[units]
    row = np.repeat(rows, size)
    first = np.repeat(unit_start[units], size)
    offset = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    return row, first + offset


def _span(unit_start, unit_size, u) -> range:
    return range(unit_start[u], unit_start[u] + unit_size[u])


def build_model(problem, rules, cands) -> dict:
    """The MIP over the candidate pairs with exactly the model's hard rules and objective.
    Columns: one binary per pair, then continuous (session, need) covers and load units."""
    sessions, roles, w = problem.sessions, problem.roles, problem.weights
    n_pairs = len(cands)
    s_start = np.array([s.start for s in sessions], dtype=np.int64)
    s_end = np.array([s.end for s in sessions], dtype=np.int64)
    s_week = np.array([s.week for s in sessions], dtype=np.int64)
    wards = sorted(set(problem.neighbours) | {s.ward for s in sessions})
    ward_col = {code: i for i, code in enumerate(wards)}
    s_ward = np.array([ward_col[s.ward] for s in sessions], dtype=np.int64)
    near = np.eye(len(wards), dtype=bool)  # same ward or neighbours: no travel gap
    for a, nbrs in problem.neighbours.items():
        for b in nbrs:
            near[ward_col[a], ward_col[b]] = near[ward_col[b], ward_col[a]] = True

    # Order pairs by (volunteer, session start, session): a "unit" is one volunteer in
    # one session (any of its roles), and a unit's pairs are contiguous.
    order = np.lexsort((cands.role, cands.session, s_start[cands.session], cands.vol))
    vol, role, sess, cost = (a[order] for a in (cands.vol, cands.role, cands.session, cands.cost))
    new_unit = np.r_[True, (vol[1:] != vol[:-1]) | (sess[1:] != sess[:-1])]
    unit_start = np.flatnonzero(new_unit)
    unit_size = np.diff(np.r_[unit_start, n_pairs])
    u_vol, u_sess = vol[unit_start], sess[unit_start]
    u_s, u_e = s_start[u_sess], s_end[u_sess]
    n_units = len(unit_start)
    rows = Rows()

    # Seats of each role.
    seats = np.array([r.seats for r in roles], dtype=np.float64)
    rows.add(role, np.arange(n_pairs), 1.0, seats)

    # Clashes between a volunteer's sessions, found by comparing each unit with the next
    # d-th one while any is still within reach (units are sorted by start).
    over_i, over_j, travel_i, travel_j = [], [], [], []
    d = 1
    while d < n_units:
        i = np.arange(n_units - d)
        j = i + d
        reach = (u_vol[i] == u_vol[j]) & (u_s[j] < u_e[i] + problem.travel_gap)
        if not reach.any():
            break
        i, j = i[reach], j[reach]
        overlap = u_s[j] < u_e[i]
        over_i.append(i[overlap])
        over_j.append(j[overlap])
        far = ~overlap & ~near[s_ward[u_sess[i]], s_ward[u_sess[j]]]
        travel_i.append(i[far])
        travel_j.append(j[far])
        d += 1
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
    over_i, over_j, travel_i, travel_j = map(cat, (over_i, over_j, travel_i, travel_j))

    # Overlaps: one clique per unit j = the units running when j starts; it is dropped
    # when the next unit of the volunteer starts before any member ends (it contains it).
    members = np.r_[np.arange(n_units), over_i]
    owner = np.r_[np.arange(n_units), over_j]
    min_end = np.full(n_units, np.iinfo(np.int64).max)
    np.minimum.at(min_end, owner, u_e[members])
    clique_size = np.bincount(owner, minlength=n_units)
    nxt = np.r_[np.arange(1, n_units), n_units - 1]
    dominated = (np.r_[u_vol[1:] == u_vol[:-1], False]) & (u_s[nxt] < min_end)
    keep = ~dominated & ((clique_size > 1) | (unit_size > 1))
    row_of = np.cumsum(keep) - 1
    sel = keep[owner]
    r, c = _expand(row_of[owner[sel]], members[sel], unit_start, unit_size)
    rows.add(r, c, 1.0, np.ones(int(keep.sum())))
    n_cliques = int(keep.sum())

    # Travel-only clashes: pairwise.
    k = np.arange(len(travel_i))
    r, c = _expand(np.r_[k, k], np.r_[travel_i, travel_j], unit_start, unit_size)
    rows.add(r, c, 1.0, np.ones(len(k)))

    # Weekly limits, minus the fixed bookings of the week.
    fixed_week = defaultdict(int)
    for vid, sids in rules.fixed_sessions.items():
        for sid in sids:
            fixed_week[(vid, rules.session[sid].week)] += 1
    vol_ids = np.array([v.id for v in problem.volunteers], dtype=np.int64)
    limit = np.array([v.max_per_week for v in problem.volunteers], dtype=np.int64)
    vw_key = u_vol * 10_000 + s_week[u_sess]
    vw, vw_of = np.unique(vw_key, return_inverse=True)
    vw_vol, vw_week = vw // 10_000, vw % 10_000
    cap = limit[vw_vol] - np.array(
        [
            fixed_week.get((int(vol_ids[v]), int(wk)), 0)
            for v, wk in zip(vw_vol, vw_week, strict=True)
        ],
        dtype=np.int64,
    )
    cap = np.maximum(cap, 0)
    units_in_week = np.bincount(vw_of, minlength=len(vw))
    binding = units_in_week > cap
    row_of = np.cumsum(binding) - 1
    sel = binding[vw_of]
    r, c = _expand(row_of[vw_of[sel]], np.flatnonzero(sel), unit_start, unit_size)
    rows.add(r, c, 1.0, cap[binding])

    # Participants' needs not covered by fixed staff: a unit that does not cover a need
    # is at most the (session, need)'s cover column, itself at most its coverers' pairs.
    access = [v.accessibility for v in problem.volunteers]
    fixed_staff = defaultdict(set)
    for b in problem.bookings:
        if b.fixed:
            fixed_staff[b.session_id] |= rules.volunteer[b.volunteer_id].accessibility
    session_index = {s.id: k for k, s in enumerate(sessions)}
    open_seats = np.bincount(
        [session_index[r.session_id] for r in roles],
        [max(r.seats, 0) for r in roles],
        len(sessions),
    )
    by_session = defaultdict(list)
    for u in np.flatnonzero(np.isin(u_sess, [k for k, s in enumerate(sessions) if s.needs])):
        by_session[int(u_sess[u])].append(int(u))
    need_r, need_c, need_v, n_need, n_cover = [], [], [], 0, 0
    for k, units in by_session.items():
        for need in sorted(sessions[k].needs - fixed_staff[sessions[k].id]):
            column = n_pairs + n_cover  # the cover column of (session, need)
            n_cover += 1
            cover = [
                p
                for u in units
                if need in access[u_vol[u]]
                for p in _span(unit_start, unit_size, u)
            ]
            need_r += [n_need] * (1 + len(cover))
            need_c += [column, *cover]
            need_v += [1.0] + [-1.0] * len(cover)
            n_need += 1
            others = []
            for u in units:
                if need not in access[u_vol[u]]:
                    span = _span(unit_start, unit_size, u)
                    others += span
                    need_r += [n_need] * (len(span) + 1)
                    need_c += [*span, column]
                    need_v += [1.0] * len(span) + [-1.0]
                    n_need += 1
            # The same, summed: the session's open seats times the cover. Valid for
            # every plan (no cover, no one else; a cover, at most the seats) and much
            # tighter in the LP, where half a coverer would otherwise let two halves
            # of everyone else fill each seat.
            need_r += [n_need] * (len(others) + 1)
            need_c += [*others, column]
            need_v += [1.0] * len(others) + [-float(open_seats[k])]
            n_need += 1
    rows.add(need_r, need_c, need_v, np.zeros(n_need))

    # Fair load: the k-th session of a volunteer (fixed ones counted) costs load*(k-1).
    # Continuous unit columns with rising costs; the first unit is free when nothing fixed.
    vol_units = np.bincount(u_vol, minlength=len(problem.volunteers))
    week_room = np.bincount(
        vw_vol, weights=np.minimum(cap, units_in_week), minlength=len(vol_units)
    )
    most = np.minimum(vol_units, week_room).astype(np.int64)
    fixed = np.array([rules.fixed_load[v] for v in vol_ids], dtype=np.int64)
    free_units = np.where(fixed == 0, np.minimum(most, 1), 0) if w.load > 0 else most
    paid = most - free_units
    who = np.flatnonzero(most > 0)
    unit_vol = np.repeat(who, paid[who])
    kth = np.arange(len(unit_vol)) - np.repeat(np.cumsum(paid[who]) - paid[who], paid[who])
    unit_cost = w.load * (fixed[unit_vol] + free_units[unit_vol] + kth)  # k-1 for unit k
    load_row = np.full(len(vol_units), -1)
    load_row[who] = np.arange(len(who))
    assert (load_row[vol] >= 0).all()
    r = np.r_[load_row[vol], load_row[unit_vol]]
    c = np.r_[np.arange(n_pairs), n_pairs + n_cover + np.arange(len(unit_vol))]
    v = np.r_[np.ones(n_pairs), -np.ones(len(unit_vol))]
    rows.add(r, c, v, free_units[who])

    unfilled = np.array([rules.seat_cost(x) for x in roles], dtype=np.float64)
    col_cost = np.r_[cost - unfilled[role], np.zeros(n_cover), unit_cost].astype(np.float64)
    return {
        "n_pairs": n_pairs,
        "n_cols": n_pairs + n_cover + len(unit_vol),
        "col_cost": col_cost,
        "offset": float((seats * unfilled).sum()),
        "rows": rows,
        "pair_vol": vol_ids[vol],
        "pair_role": np.array([x.id for x in roles], dtype=np.int64)[role],
        "counts": {
            "cliques": n_cliques,
            "travel": len(travel_i),
            "weekly": int(binding.sum()),
            "needs": n_need,
            "load_units": len(unit_vol),
        },
    }


def solve_model(model: dict, integer: bool, time_limit: float) -> dict:
    """Runs bench/matching_highs.py on the model (highspy and OR-tools clash in one process)."""
    rows: Rows = model["rows"]
    r, c, v = np.concatenate(rows.r), np.concatenate(rows.c), np.concatenate(rows.v)
    order = np.lexsort((c, r))
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "model.npz", Path(tmp) / "result.npz"
        np.savez(
            source,
            n_cols=model["n_cols"],
            n_pairs=model["n_pairs"],
            col_cost=model["col_cost"],
            offset=model["offset"],
            row_upper=np.concatenate(rows.upper),
            start=np.searchsorted(r[order], np.arange(rows.n + 1)).astype(np.int32),
            index=c[order].astype(np.int32),
            value=v[order],
            integer=integer,
            time_limit=time_limit,
        )
        del r, c, v, order
        script = Path(__file__).with_name("matching_highs.py")
        subprocess.run([sys.executable, str(script), str(source), str(target)], check=True)
        res = dict(np.load(target))
    out = {
        "status": str(res["status"]),
        "seconds": round(float(res["seconds"]), 2),
        "objective": float(res["objective"]),
        "bound": float(res["bound"]),
        "mip_gap": float(res["mip_gap"]),
        "iterations": int(res["iterations"]),
        "rows": rows.n,
        "cols": model["n_cols"],
    }
    if integer:
        chosen = np.flatnonzero(res["x"] > 0.5)
        out["pairs"] = sorted(
            zip(
                model["pair_vol"][chosen].tolist(), model["pair_role"][chosen].tolist(), strict=True
            )
        )
    return out


def coverable(problem, rules, cands) -> np.ndarray:
    """Pairs of sessions whose every need some candidate or fixed booking covers. The
    others are 0 in every plan and in the LP too: a need nobody covers has its cover
    column at most an empty sum, and every pair of the session at most that column."""
    covered = defaultdict(set)
    for k, v in zip(cands.session.tolist(), cands.vol.tolist(), strict=True):
        if problem.sessions[k].needs:
            covered[k] |= problem.volunteers[v].accessibility
    index = {s.id: k for k, s in enumerate(problem.sessions)}
    for b in problem.bookings:
        if b.fixed:
            covered[index[b.session_id]] |= rules.volunteer[b.volunteer_id].accessibility
    hopeless = [k for k, s in enumerate(problem.sessions) if s.needs - covered[k]]
    return ~np.isin(cands.session, hopeless)


def flow_bound(problem, rules, cands) -> int:
    """A valid lower bound by min-cost flow (so fast at any size): the model without its
    needs and travel-only clashes, and with overlaps only inside groups of sessions that
    all overlap one another (at most one per group). Network LPs are integral, so this is
    that relaxation's exact optimum. It is also at most the LP bound of build_model: each
    group is one of that model's overlap cliques (or inside one), its weekly and load
    rows are the same, and the pairs it leaves out are 0 in the LP (see `coverable`), so
    every LP solution is a solution of this relaxation."""
    from ortools.graph.python import min_cost_flow

    sessions, roles, w = problem.sessions, problem.roles, problem.weights
    s_start = np.array([s.start for s in sessions], dtype=np.int64)
    s_end = np.array([s.end for s in sessions], dtype=np.int64)
    s_week = np.array([s.week for s in sessions], dtype=np.int64)
    order = np.lexsort((cands.role, cands.session, s_start[cands.session], cands.vol))
    order = order[coverable(problem, rules, cands)[order]]
    vol, role, sess, cost = (a[order] for a in (cands.vol, cands.role, cands.session, cands.cost))
    start, end, week = s_start[sess], s_end[sess], s_week[sess]
    n = len(vol)
    # Groups: consecutive sessions (by start) of one volunteer and week, all running at
    # the start of the group's last session.
    group = np.zeros(n, dtype=np.int64)
    g, lowest_end = -1, 0
    vol_l, start_l, end_l, week_l = vol.tolist(), start.tolist(), end.tolist(), week.tolist()
    for p in range(n):
        if (
            p == 0
            or vol_l[p] != vol_l[p - 1]
            or week_l[p] != week_l[p - 1]
            or start_l[p] >= lowest_end
        ):
            g += 1
            lowest_end = end_l[p]
        else:
            lowest_end = min(lowest_end, end_l[p])
        group[p] = g
    n_group = g + 1
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    vol_ids = np.array([v.id for v in problem.volunteers], dtype=np.int64)
    vw, group_week = np.unique(vol[first] * 10_000 + week[first], return_inverse=True)
    vw_vol, vw_week = vw // 10_000, vw % 10_000
    fixed_week = defaultdict(int)
    for vid, sids in rules.fixed_sessions.items():
        for sid in sids:
            fixed_week[(vid, rules.session[sid].week)] += 1
    limit = np.array([v.max_per_week for v in problem.volunteers], dtype=np.int64)
    cap = limit[vw_vol] - np.array(
        [
            fixed_week.get((int(vol_ids[v]), int(k)), 0)
            for v, k in zip(vw_vol, vw_week, strict=True)
        ],
        dtype=np.int64,
    )
    cap = np.minimum(np.maximum(cap, 0), np.bincount(group_week, minlength=len(vw)))
    n_vol, n_vw, n_role = len(problem.volunteers), len(vw), len(roles)
    units = np.bincount(vw_vol, weights=cap, minlength=n_vol).astype(np.int64)
    unit_vol = np.repeat(np.arange(n_vol), units)
    kth = np.arange(len(unit_vol)) - np.repeat(np.cumsum(units) - units, units)
    fixed = np.array([rules.fixed_load[v] for v in vol_ids], dtype=np.int64)
    seats = np.array([max(r.seats, 0) for r in roles], dtype=np.int64)
    unfilled = np.array([rules.seat_cost(r) for r in roles], dtype=np.int64)
    # Nodes: 0 source, 1 sink, volunteers, (volunteer, week)s, groups, roles.
    b_vw, b_group = 2 + n_vol, 2 + n_vol + n_vw
    b_role = b_group + n_group
    z = lambda k: np.zeros(k, dtype=np.int64)  # noqa: E731
    tails = np.r_[
        z(len(unit_vol)),
        2 + vw_vol,
        b_vw + group_week,
        b_group + group,
        z(n_role),
        b_role + np.arange(n_role),
    ]
    heads = np.r_[
        2 + unit_vol,
        b_vw + np.arange(n_vw),
        b_group + np.arange(n_group),
        b_role + role,
        b_role + np.arange(n_role),
        np.ones(n_role, dtype=np.int64),
    ]
    caps = np.r_[
        np.ones(len(unit_vol), dtype=np.int64),
        cap,
        np.ones(n_group + n, dtype=np.int64),
        seats,
        seats,
    ]
    costs = np.r_[w.load * (fixed[unit_vol] + kth), z(n_vw + n_group), cost, unfilled, z(n_role)]
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(np.array([0, 1]), np.array([seats.sum(), -seats.sum()]))
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("bound flow failed")
    return int(flow.optimal_cost())


# -- the engine ------------------------------------------------------------------------


def timed_solve(problem):
    marks = [("start", time.perf_counter())]
    result = solver.solve(problem, lambda stage, _f: marks.append((stage, time.perf_counter())))
    stages = {b[0]: round(b[1] - a[1], 3) for a, b in zip(marks, marks[1:], strict=False)}
    return result, marks[-1][1] - marks[0][1], stages


def with_movable(problem, proposals, refused=frozenset()):
    """The same problem with earlier proposals as movable bookings."""
    fixed = [b for b in problem.bookings if b.fixed]
    movable = [Booking(p.volunteer_id, p.session_id, p.role_id, fixed=False) for p in proposals]
    return replace(problem, bookings=fixed + movable, refused=problem.refused | refused)


def replan_part(working, rules, done) -> int:
    """What the re-plan after a withdrawal does for the sessions a repair left to it
    (`Repair.uncovered`) at the least: no proposals where a need stays uncovered. The
    benchmark runs no re-plan after each repair, so it does this much, untimed."""
    removed = 0
    for session_id in sorted(done.uncovered):
        if working.missing_needs(rules.session[session_id]):
            for v, r in working.proposed_in(session_id):
                working.remove(v, rules.role[r])
                removed += 1
    return removed


def repairs(problem, rules, rng: random.Random, samples: int) -> dict:
    """REPAIRS sequential withdrawals on one solved plan, then `samples` single ones each
    compared with a full re-solve."""
    working, _ = solver.plan(problem)
    fresh = copy.deepcopy(working)
    fixed_before = set(working.fixed)
    times, touched, bad = [], [], 0
    deferred = replan_removed = 0
    cpu_times: list[float] = []
    # The benchmark's own heap (earlier plans, candidate dicts) is not a repair job's: a
    # full garbage collection of it during the loop would be timed as a repair.
    gc.collect()
    gc.freeze()
    for _ in range(REPAIRS):
        if not working.proposals:
            break
        volunteer_id, role_id = rng.choice(sorted(working.proposals))
        clock, cpu = time.perf_counter(), time.process_time()
        done = repair.withdraw(working, volunteer_id, role_id)
        times.append(time.perf_counter() - clock)
        cpu_times.append(time.process_time() - cpu)  # the repair's own, whatever the load
        touched.append(len(done.touched))
        # A session the repair left to the re-plan: here no re-plan follows, so do its
        # part untimed (no proposals where a need stays uncovered) and count it.
        deferred += len(done.uncovered)
        replan_removed += replan_part(working, rules, done)
        if len(problem.volunteers) <= 5_000 and rules.violations(working.pairs()):
            bad += 1
    gc.unfreeze()
    refused_hit = sum(
        (v, rules.role[r].session_id) in working.refused for v, r in working.proposals
    )
    times_ms = sorted(t * 1000 for t in times)
    out = {
        "repairs": len(times),
        "p50_ms": round(statistics.median(times_ms), 3),
        "p99_ms": round(times_ms[min(len(times_ms) - 1, int(0.99 * len(times_ms)))], 3),
        "max_ms": round(times_ms[-1], 3),
        "cpu_p99_ms": round(
            sorted(cpu_times)[min(len(cpu_times) - 1, int(0.99 * len(cpu_times)))] * 1000, 3
        ),
        "mean_touched": round(statistics.mean(touched), 2),
        "max_touched": max(touched),
        "left_to_replan": deferred,
        "replan_removed": replan_removed,
        "fixed_moved": len(fixed_before ^ set(working.fixed)),
        "plans_with_violations": bad,
        "final_violations": len(rules.violations(working.pairs())),
        "refused_proposed": refused_hit,
    }
    diffs = []
    base = sorted(fresh.proposals)
    for volunteer_id, role_id in rng.sample(base, min(samples, len(base))):
        one = copy.deepcopy(fresh)
        replan_part(one, rules, repair.withdraw(one, volunteer_id, role_id))
        repaired = rules.objective(one.pairs())
        session_id = rules.role[role_id].session_id
        rest = [
            _Prop(v, rules.role[r].session_id, r)
            for v, r in base
            if (v, r) != (volunteer_id, role_id)
        ]
        again = solver.solve(with_movable(problem, rest, frozenset({(volunteer_id, session_id)})))
        diffs.append((repaired - again.objective) / again.objective)
    if diffs:
        out["quality_samples"] = len(diffs)
        out["quality_mean"] = statistics.mean(diffs)
        out["quality_worst"] = max(diffs)
        out["quality_best"] = min(diffs)
    return out


DRIFT_AT = (200, 1000)


def drift(problem, rules, seed: int, every: int, keep_bonus: int) -> dict:
    """Withdrawals one after the other (a random proposal of the plan each time, its
    volunteer then refusing that session), each repaired locally (`repair.withdraw`); in
    a second run from the same start and seed, also re-optimised after every `every`
    withdrawals (the debounced run: a full solve with the live proposals as movable
    bookings, the refusals so far, and `keep_bonus`). After DRIFT_AT withdrawals (just
    before that moment's re-optimisation, the worst point of a cycle) each plan is
    compared with a full re-solve of its own problem (relative objective gap), and the
    re-optimisations' moves are counted: proposals of the live plan that one took away
    (each an unanswered proposal withdrawn from someone)."""
    weights = replace(problem.weights, keep_bonus=keep_bonus)
    start, _ = solver.plan(problem)
    out: dict = {"every": every, "keep_bonus": keep_bonus}
    for variant, period in (("repaired_only", 0), ("reoptimised", every)):
        rng = random.Random(seed)
        live = copy.deepcopy(start)
        refused: set[tuple[int, int]] = set()
        moved = reopt = 0
        reopt_s: list[float] = []
        for i in range(1, max(DRIFT_AT) + 1):
            if not live.proposals:
                break
            volunteer_id, role_id = rng.choice(sorted(live.proposals))
            refused.add((volunteer_id, rules.role[role_id].session_id))
            replan_part(live, rules, repair.withdraw(live, volunteer_id, role_id))
            if i in DRIFT_AT:
                base = with_movable(problem, _props(live), frozenset(refused))
                full = solver.solve(base).objective
                mark = {
                    "gap": (rules.objective(live.pairs()) - full) / full,
                    "full_resolve": full,
                    "reoptimisations": reopt,
                    "proposals_moved": moved,
                    "proposals": len(live.proposals),
                    "violations": len(rules.violations(live.pairs())),
                    "refused_proposed": sum(
                        (v, rules.role[r].session_id) in refused for v, r in live.proposals
                    ),
                }
                if reopt_s:
                    mark["reopt_s_median"] = round(statistics.median(reopt_s), 3)
                out[f"{variant}_{i}"] = mark
                print(f"  drift {variant} after {i}: {mark}", flush=True)
            if period and i % period == 0:
                before = set(live.proposals)
                again = replace(
                    with_movable(problem, _props(live), frozenset(refused)), weights=weights
                )
                clock = time.perf_counter()
                live, _ = solver.plan(again)
                reopt_s.append(time.perf_counter() - clock)
                moved += len(before - set(live.proposals))
                reopt += 1
    return out


def _props(working) -> list:
    rules = working.rules
    return [_Prop(v, rules.role[r].session_id, r) for v, r in sorted(working.proposals)]


class _Prop:
    __slots__ = ("volunteer_id", "session_id", "role_id")

    def __init__(self, volunteer_id, session_id, role_id):
        self.volunteer_id, self.session_id, self.role_id = volunteer_id, session_id, role_id


def run_size(
    name: str,
    seed: int,
    mip: bool,
    mip_time: float,
    family: str = "today",
    light: bool = False,
    runs: int | None = None,
    drift_every: int = 0,
    keep_bonus: int = 1,
) -> dict:
    out: dict = {"size": name, "engine": engine_revision(), "family": family, "seed": seed}
    problem = generate(name, seed, family)
    rules = Rules(problem)
    out["volunteers"], out["sessions"] = len(problem.volunteers), len(problem.sessions)
    out["seats"] = sum(r.seats for r in problem.roles)
    out["fixed"] = len(problem.bookings)
    assert rules.violations([]) == [], "fixed bookings break the rules"
    out["rss_before_mb"] = round(peak_mb())

    walls, result, stages = [], None, {}
    for _ in range(runs or RUNS[name]):
        result, wall, stages = timed_solve(problem)
        walls.append(wall)
    out["rss_peak_mb"] = round(peak_mb())  # before any MIP work
    out["wall_s"] = round(statistics.median(walls), 3)
    out["walls"] = [round(x, 3) for x in walls]
    out["stages_s"] = stages
    out["pairs"] = result.stats["pairs"]
    out["filled"] = result.filled
    out["objective"] = result.objective
    engine_pairs = sorted((p.volunteer_id, p.role_id) for p in result.proposals)
    out["engine_violations"] = rules.violations(engine_pairs)[:5]
    assert rules.objective(engine_pairs) == result.objective
    log(out, "wall_s", "walls", "stages_s", "pairs", "filled", "objective", "engine_violations")

    cands = candidate_pairs.build(problem, rules)
    sample = None
    if len(problem.sessions) > 1000:
        sample = random.Random(seed).sample([s.id for s in problem.sessions], 100)
    if not light:
        out["candidate_check"] = check_candidates(problem, rules, cands, sample)
        log(out, "candidate_check")

    if name != "small" and not light:
        again = solver.solve(with_movable(problem, result.proposals))
        before = {(p.volunteer_id, p.role_id) for p in result.proposals}
        after = {(p.volunteer_id, p.role_id) for p in again.proposals}
        out["resolve_changed"] = len(before - after) / max(len(before), 1)
        out["resolve_objective"] = again.objective
        log(out, "resolve_changed", "resolve_objective")

    clock = time.perf_counter()
    out["flow_bound"] = flow_bound(problem, rules, cands)
    out["flow_bound_s"] = round(time.perf_counter() - clock, 2)
    out["gap_to_flow_bound"] = (result.objective - out["flow_bound"]) / out["flow_bound"]
    # The LP relaxation keeps every constraint of the flow bound's relaxation (and more),
    # so its bound is at least the flow bound: the gap to it is at most this one.
    log(out, "flow_bound", "flow_bound_s", "gap_to_flow_bound")

    integer = name != "large"
    if mip:
        clock = time.perf_counter()
        model = build_model(problem, rules, cands)
        out["model_build_s"] = round(time.perf_counter() - clock, 2)
        out["model_rows"] = model["counts"]
        # The LP relaxation by dual simplex; its bound is computed from the duals, so it
        # is valid even when the time limit stops HiGHS before convergence.
        lp = solve_model(model, integer=False, time_limit=mip_time)
        out["lp"] = lp
        out["lp_bound"] = lp["bound"]
        if lp["bound"] > 0:
            out["gap_to_lp_bound"] = (result.objective - lp["bound"]) / lp["bound"]
        log(out, "model_build_s", "model_rows", "lp", "gap_to_lp_bound")
        if integer:
            ref = solve_model(model, integer=True, time_limit=mip_time)
            out["reference"] = {k: v for k, v in ref.items() if k != "pairs"}
            pairs = ref["pairs"]
            out["reference"]["filled"] = len(pairs)
            out["reference"]["violations"] = rules.violations(pairs)[:5]
            out["reference"]["rules_objective"] = rules.objective(pairs)
            if ref["status"] == "Optimal":
                assert abs(rules.objective(pairs) - ref["objective"]) < 1e-6 * ref["objective"]
            # A plan stopped by the time limit may carry more load units than it uses (they
            # are continuous): its objective is the rules' one.
            out["reference"]["objective"] = min(ref["objective"], rules.objective(pairs))
            out["gap"] = (result.objective - rules.objective(pairs)) / rules.objective(pairs)
            out["gap_to_bound"] = (result.objective - ref["bound"]) / ref["bound"]
            log(out, "reference", "gap", "gap_to_bound")

    if drift_every:
        out["drift"] = drift(problem, rules, seed, drift_every, keep_bonus)
        log(out, "drift")

    if name != "small" and not light:
        out["repair"] = repairs(problem, rules, random.Random(seed), QUALITY_SAMPLES[name])
        log(out, "repair")
    return out


def log(out: dict, *keys: str) -> None:
    print(
        f"[{out['family']} {out['size']} {out['seed']}] "
        + ", ".join(f"{k}={out.get(k)}" for k in keys),
        flush=True,
    )


# -- the report ------------------------------------------------------------------------


def table(results: list[dict]) -> None:
    def pct(x):
        return "-" if x is None else f"{100 * x:.3f}%"

    print(
        "\n| size | vols | sessions | seats | pairs | engine s | filled | objective "
        "| MIP optimum | ref filled | gap | LP bound | gap to it | flow bound | gap to it "
        "| peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ref = r.get("reference", {})
        refobj = f"{ref['objective']:.0f} ({ref['status']}, {ref['seconds']} s)" if ref else "-"
        lp = r.get("lp")
        lp_bound = f"{lp['bound']:.1f} ({lp['status']}, {lp['seconds']} s)" if lp else "-"
        print(
            f"| {r['size']} | {r['volunteers']} | {r['sessions']} | {r['seats']} | {r['pairs']} "
            f"| {r['wall_s']} | {r['filled']} | {r['objective']} | {refobj} "
            f"| {ref.get('filled', '-')} | {pct(r.get('gap'))} | {lp_bound} "
            f"| {pct(r.get('gap_to_lp_bound'))} | {r['flow_bound']} "
            f"| {pct(r['gap_to_flow_bound'])} | {r['rss_peak_mb']} |"
        )
    print(
        "\n| size | repairs | p50 ms | p99 ms (CPU) | mean touched (max) | left to re-plan "
        "| fixed moved | violations | vs re-solve mean / worst | re-solve moved |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rep = r.get("repair")
        if not rep:
            continue
        quality = (
            f"{pct(rep['quality_mean'])} / {pct(rep['quality_worst'])}"
            if "quality_mean" in rep
            else "-"
        )
        print(
            f"| {r['size']} | {rep['repairs']} | {rep['p50_ms']} "
            f"| {rep['p99_ms']} ({rep.get('cpu_p99_ms', '-')}) "
            f"| {rep['mean_touched']} ({rep['max_touched']}) "
            f"| {rep.get('left_to_replan', '-')} ({rep.get('replan_removed', '-')} removed) "
            f"| {rep['fixed_moved']} | {rep['final_violations']} "
            f"| {quality} | {pct(r.get('resolve_changed'))} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small,medium,large,tight")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mip", action="store_true", help="skip the exact reference")
    parser.add_argument("--mip-time", type=float, default=300.0, help="HiGHS time limit (s)")
    parser.add_argument("--families", default="today", help="see FAMILIES")
    parser.add_argument("--seeds", help="e.g. 1-10 or 1,3 (default: --seed)")
    parser.add_argument("--light", action="store_true", help="engine and references only")
    parser.add_argument("--runs", type=int, help="engine runs per instance (median)")
    parser.add_argument("--out", help="append each instance's result to this JSON-lines file")
    parser.add_argument(
        "--drift", type=int, default=0, help="re-optimise every N withdrawals (see drift)"
    )
    parser.add_argument("--keep-bonus", type=int, default=1, help="with --drift (1/10 points)")
    parser.add_argument("--report", nargs="+", help="only summarise these --out files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        saved = [json.loads(line) for name in args.report for line in open(name, encoding="utf-8")]
        summary(saved)
        return 0
    if args.child:
        family, name = args.child.split(":")
        out = run_size(
            name,
            args.seed,
            not args.no_mip,
            args.mip_time,
            family,
            args.light,
            args.runs,
            args.drift,
            args.keep_bonus,
        )
        if engine_revision() != out["engine"]:
            out["engine"] += " (CHANGED during the run)"
        print("RESULT " + json.dumps(out, default=str), flush=True)
        return 0
    seeds = _seeds(args.seeds) if args.seeds else [args.seed]
    results = []
    for family in args.families.split(","):
        for name in args.sizes.split(","):
            for seed in seeds:
                print(f"load average: {os.getloadavg()}", flush=True)
                cmd = [sys.executable, __file__, "--child", f"{family}:{name}"]
                cmd += ["--seed", str(seed), "--mip-time", str(args.mip_time)]
                cmd += ["--no-mip"] if args.no_mip else []
                cmd += ["--light"] if args.light else []
                cmd += ["--runs", str(args.runs)] if args.runs else []
                if args.drift:
                    cmd += ["--drift", str(args.drift), "--keep-bonus", str(args.keep_bonus)]
                with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) as proc:
                    for line in proc.stdout:
                        if line.startswith("RESULT "):
                            results.append(json.loads(line[7:]))
                            results[-1]["loadavg"] = os.getloadavg()
                            if args.out:
                                with open(args.out, "a", encoding="utf-8") as f:
                                    f.write(json.dumps(results[-1], default=str) + "\n")
                        else:
                            print(line, end="", flush=True)
                if proc.returncode:
                    print(f"[{family} {name} {seed}] failed with status {proc.returncode}")
    if len(seeds) == 1 and args.families == "today":
        table(results)
    else:
        summary(results)
    print("\nengine revision:", sorted({r["engine"] for r in results}))
    print("load average:", os.getloadavg())
    return 0


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += range(int(lo), int(hi or lo) + 1)
    return seeds


def gap_of(r: dict) -> tuple[float | None, str]:
    """The engine's gap to its reference: the MIP's best plan (medium, tight, small: an
    optimum when proven) or the LP bound (large, or when there is no MIP)."""
    ref = r.get("reference")
    if ref and ref["status"] == "Optimal":
        return r["gap"], "optimum"
    # Otherwise the best lower bound (the MIP's when stopped by its time limit, the LP's):
    # the gap to it is at least the true gap.
    bounds = [(r["flow_bound"], "flow bound")]
    if r.get("lp_bound"):
        bounds.append((r["lp_bound"], "LP bound"))
    if ref:
        bounds.append((ref["bound"], "MIP bound"))
    bound, kind = max(bounds)
    return (r["objective"] - bound) / bound, kind


def summary(results: list[dict]) -> None:
    """Per family and size, seeds 1-5 and 6-10 apart: median and worst gap, seats the
    reference fills that the engine does not, engine time."""

    def pct(x):
        return "-" if x is None else f"{100 * x:.2f}%"

    print(
        "\n| family | size | seeds | reference | median gap | worst gap (seed) | seats short "
        "of the optimum: total (worst seed) | engine s: median (max) | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        part = "1-5" if r["seed"] <= 5 else "6-10"
        groups[(r["family"], r["size"], part)].append(r)
    for (family, size, _part), rs in groups.items():
        gaps = [(gap_of(r)[0], r["seed"]) for r in rs]
        gaps = [(g, s) for g, s in gaps if g is not None]
        kinds = sorted({gap_of(r)[1] for r in rs})
        short = [
            (r["reference"]["filled"] - r["filled"], r["seed"])
            for r in rs
            if r.get("reference", {}).get("status") == "Optimal"
        ]
        walls = [r["wall_s"] for r in rs]
        loads = [r["loadavg"][0] for r in rs if "loadavg" in r]
        worst = max(gaps) if gaps else None
        short_text = (
            f"{sum(max(k, 0) for k, _ in short)} ({max(short)[0]}, seed {max(short)[1]})"
            if short
            else "-"
        )
        print(
            f"| {family} | {size} | {','.join(str(r['seed']) for r in rs)} | {'/'.join(kinds)} "
            f"| {pct(statistics.median(g for g, _ in gaps)) if gaps else '-'} "
            f"| {pct(worst[0]) if worst else '-'} ({worst[1] if worst else '-'}) "
            f"| {short_text} | {statistics.median(walls):.2f} ({max(walls):.2f}) "
            f"| {min(loads, default=0):.1f}-{max(loads, default=0):.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
