"""CPU time of the matching engine, for A/B comparisons on a busy machine.

`bench/matching.py` reports wall times; with other work on the machine they say little.
This prints `time.process_time` (the process's own CPU, whatever the load) of the same
work, one JSON line per instance, so that two revisions can be run alternately (A B A B)
and compared (the engine and `bench/matching.py` are imported from PYTHONPATH, so
`PYTHONPATH=/path/to/A` times checkout A's engine with this script):

    PYTHONPATH=. .venv/bin/python bench/matching_cpu.py solve medium today:1-5 doubles:1 [--runs 3]
    PYTHONPATH=. .venv/bin/python bench/matching_cpu.py repairs tight today:1-3 [--replays 3]

`solve`: `solver.solve` `--runs` times per instance (gc frozen after the problem is
built, as `bench/matching.py` does for repairs), the least and the median CPU, the
objective and the seats filled. `repairs`: the 200 sequential withdrawals of
`bench/matching.py`'s `repairs` (same seed, same choices), each timed alone; per repair
the least of `--replays` replays from the same solved plan (which removes most of the
machine's noise), p50/p99/max, the most people a repair touched and a hash of every
repair's changes (equal hashes: the same repairs).
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

# After PYTHONPATH: `PYTHONPATH=/path/to/other/checkout` times that checkout's engine.
ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from bench.matching import REPAIRS, replan_part  # noqa: E402
from bench.matching_instances import generate  # noqa: E402
from coordinator.matching.engine import repair, solver  # noqa: E402
from coordinator.matching.engine.constraints import Rules  # noqa: E402


def instances(specs: list[str]) -> list[tuple[str, int]]:
    """`family:1-5` or `family:3` -> (family, seed) pairs."""
    found = []
    for spec in specs:
        family, _, seeds = spec.partition(":")
        first, _, last = (seeds or "1").partition("-")
        found += [(family, seed) for seed in range(int(first), int(last or first) + 1)]
    return found


def solve_cpu(size: str, family: str, seed: int, runs: int) -> dict:
    problem = generate(size, seed, family)
    gc.collect()
    gc.freeze()
    cpus = []
    for _ in range(runs):
        clock = time.process_time()
        result = solver.solve(problem)
        cpus.append(time.process_time() - clock)
    gc.unfreeze()
    return {
        "cpu_min": round(min(cpus), 3),
        "cpu_median": round(statistics.median(cpus), 3),
        "objective": result.objective,
        "filled": result.filled,
    }


def repairs_cpu(size: str, family: str, seed: int, replays: int) -> dict:
    problem = generate(size, seed, family)
    rules = Rules(problem)
    solved, _ = solver.plan(problem)
    least: list[float] = []
    touched = 0
    digest = ""
    for _ in range(replays):
        working = copy.deepcopy(solved)
        rng = random.Random(seed)  # the choices of bench/matching.py's repairs
        changes = hashlib.sha1()
        cpus = []
        gc.collect()
        gc.freeze()
        for _ in range(REPAIRS):
            if not working.proposals:
                break
            volunteer_id, role_id = rng.choice(sorted(working.proposals))
            clock = time.process_time()
            done = repair.withdraw(working, volunteer_id, role_id)
            cpus.append(time.process_time() - clock)
            touched = max(touched, len(done.touched))
            changes.update(repr(done.changes).encode())
            replan_part(working, rules, done)
        gc.unfreeze()
        least = cpus if not least else [min(a, b) for a, b in zip(least, cpus, strict=True)]
        digest = changes.hexdigest()[:12]
    ms = sorted(x * 1000 for x in least)
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3),
        "max_ms": round(ms[-1], 3),
        "max_touched": touched,
        "changes": digest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["solve", "repairs"])
    parser.add_argument("size", choices=["small", "medium", "tight", "large"])
    parser.add_argument("instances", nargs="+", help="family:seeds, e.g. today:1-5")
    parser.add_argument("--runs", type=int, default=3, help="solves per instance")
    parser.add_argument("--replays", type=int, default=3, help="replays of the repairs")
    args = parser.parse_args()
    for family, seed in instances(args.instances):
        out: dict = {"what": args.what, "size": args.size, "family": family, "seed": seed}
        if args.what == "solve":
            out.update(solve_cpu(args.size, family, seed, args.runs))
        else:
            out.update(repairs_cpu(args.size, family, seed, args.replays))
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
