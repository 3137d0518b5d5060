"""What the drift gap is made of (issue 22): withdrawals as in `matching.py --drift`, a
re-plan every `--every`, and at each checkpoint the live plan against a full re-solve,
split into empty seats, pair costs and load, with the gap right after the previous
re-plan (what the re-plan itself left) and the proposals that differ.

    PYTHONPATH=. .venv/bin/python bench/drift_probe.py --size tight --seed 2 --every 20
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from dataclasses import replace

from bench.matching import _props, generate, replan_part, with_movable
from coordinator.matching.engine import repair, solver
from coordinator.matching.engine.constraints import Rules


def parts(rules: Rules, pairs) -> dict:
    """The objective split: pair costs, load, empty seats (priced), seats filled."""
    pair = load_cost = 0
    load = Counter(rules.fixed_load)
    filled: Counter[int] = Counter()
    for v, r in pairs:
        role = rules.role[r]
        pair += rules.pair_cost(rules.volunteer[v], rules.session[role.session_id])
        load[v] += 1
        load_cost += rules.load_cost(load[v])
        filled[r] += 1
    empty = sum((r.seats - filled[r.id]) * rules.seat_cost(r) for r in rules.problem.roles)
    return {"pair": pair, "load": load_cost, "empty": empty, "filled": len(pairs)}


def compare(rules, live_pairs, ref_pairs) -> dict:
    a, b = parts(rules, live_pairs), parts(rules, ref_pairs)
    live_s, ref_s = set(live_pairs), set(ref_pairs)
    sessions = {rules.role[r].session_id for _, r in live_s ^ ref_s}
    return {"d_" + k: a[k] - b[k] for k in a} | {
        "only_live": len(live_s - ref_s),
        "only_ref": len(ref_s - live_s),
        "sessions": len(sessions),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tight")
    ap.add_argument("--family", default="today")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--keep-bonus", type=int, default=5)
    ap.add_argument("--at", default="200,1000")
    ap.add_argument(
        "--quick", action="store_true", help="no reference right after the re-plans before"
    )
    args = ap.parse_args()
    at = sorted(int(x) for x in args.at.split(","))
    problem = generate(args.size, args.seed, args.family)
    rules = Rules(problem)
    weights = replace(problem.weights, keep_bonus=args.keep_bonus)
    live, _ = solver.plan(problem)
    rng = random.Random(args.seed)
    refused: set[tuple[int, int]] = set()
    moved = 0
    cpu = []
    # Seats the live plan lost between re-plans: left empty by repairs, or removed with
    # the proposals of a session whose need stayed uncovered (replan_part); and what
    # the re-plans changed (objective, seats).
    lost = Counter()
    checkpoints = set(at) | (set() if args.quick else {a - args.every for a in at})
    for i in range(1, max(at) + 1):
        v, r = rng.choice(sorted(live.proposals))
        refused.add((v, rules.role[r].session_id))
        n = len(live.proposals)
        done = repair.withdraw(live, v, r)
        lost["repair_empty"] += n - len(live.proposals)
        n = len(live.proposals)
        lost["uncovered_removed"] += replan_part(live, rules, done)
        if i in checkpoints:
            base = with_movable(problem, _props(live), frozenset(refused))
            ref, _ = solver.plan(base)
            ref_pairs, live_pairs = ref.pairs(), live.pairs()
            ref_obj, live_obj = rules.objective(ref_pairs), rules.objective(live_pairs)
            row = {"i": i, "gap": (live_obj - ref_obj) / ref_obj, "live": live_obj, "ref": ref_obj}
            row |= compare(rules, live_pairs, ref_pairs)
        if i % args.every == 0:
            before = set(live.proposals)
            again = replace(
                with_movable(problem, _props(live), frozenset(refused)), weights=weights
            )
            clock = time.process_time()
            live_obj, live_n = rules.objective(live.pairs()), len(live.proposals)
            live, _ = solver.plan(again)
            lost["replan_seats"] += len(live.proposals) - live_n
            lost["replan_objective"] += rules.objective(live.pairs()) - live_obj
            lost["replan_worse"] += rules.objective(live.pairs()) > live_obj
            cpu.append(time.process_time() - clock)
            moved += len(before - set(live.proposals))
            if i in checkpoints:
                # The re-plan just made against the reference of the same moment.
                obj = rules.objective(live.pairs())
                row["after_replan_gap"] = (obj - ref_obj) / ref_obj
                row["after_replan"] = compare(rules, live.pairs(), ref_pairs)
        if i in checkpoints:
            row["moved"] = moved
            row["lost"] = dict(lost)
            print(json.dumps(row), flush=True)
    print(json.dumps({"replan_cpu_median": sorted(cpu)[len(cpu) // 2], "moved": moved}))


if __name__ == "__main__":
    main()
