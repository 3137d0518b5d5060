"""CPU per request of bench/load.py's mix, in process (no HTTP, no other process's work).

    .venv/bin/python bench/request_cpu.py --template wt_scale_city     # ~1 min
    .venv/bin/python bench/request_cpu.py --template wt_scale_city --profile 30

On a shared machine the wall-clock figures of a load run mostly measure the neighbours;
`time.process_time()` around each request through Flask's test client counts this
process's CPU only: the app's own cost per request (routing, sessions and logins, ORM,
templates, JSON, the after-commit relay), which is what the web workers spend. The
database is a copy of `--template` (a city kept by `bench/scale.py --keep`) with
bench/load.py's seed in two neighbouring units of it; it is dropped at the end, and the
Redis database (`--redis-url`) flushed. `--profile N` prints cProfile's N most expensive
functions (cumulative, then by own time) over all the requests, in CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import redis
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402 - the bench folder's own module
from load import MIX, neighbouring_units  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/9"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", required=True, help="a database kept by scale.py")
    parser.add_argument("--rounds", type=int, default=400, help="requests in the mix (400)")
    parser.add_argument("--redis-url", default=REDIS_URL, help=f"an empty Redis db ({REDIS_URL})")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--only", default="", help="profile only these kinds (page:home,...)")
    parser.add_argument("--show", default="", help="print the SQL of one request of this kind")
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    client = redis.Redis.from_url(args.redis_url)
    if client.dbsize():
        print(f"{args.redis_url} is not empty", file=sys.stderr)
        return 2
    database = f"squads_cpu_{os.getpid()}"
    h.create_database(database, args.template)
    try:
        with tempfile.TemporaryDirectory(prefix="squads-cpu-") as tmp:
            env = h.bench_environment(database, tmp, args.redis_url)
            h.migrate(env)
            os.environ.update(env)
            wards = neighbouring_units(database)
            seeded = h.seed(20, 2, 40, wards=wards, squads=5, feed_tokens=True, import_map=False)
            return measure(args, seeded)
    finally:
        h.cleanup(
            [
                ("drop database", lambda: h.drop_database(database)),
                ("flush redis", client.flushdb),
            ]
        )


def measure(args: argparse.Namespace, seeded: h.Seeded) -> int:
    from coordinator import create_app
    from coordinator.extensions import db

    app = create_app()
    web = app.test_client()
    statements = [0]
    shown: list[str] = []  # the SQL of the requests of kind --show

    def counted(_conn, _cursor, statement, *_args) -> None:
        statements[0] += 1
        shown.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", counted)
    rng = random.Random(args.seed)
    etags: dict[str, str] = {}
    bookings: dict[int, list[int]] = defaultdict(list)  # volunteer -> assignment ids

    def feed_path(target: str) -> str:
        if target == "ward":
            return f"/calendar/wards/{rng.choice(seeded.wards)}.ics"
        if target == "squad":
            return f"/calendar/squads/{rng.choice(seeded.squads)}.ics"
        return f"/calendar/v/{seeded.feed_tokens[rng.choice(seeded.volunteers)[0]]}.ics"

    def one(kind: str) -> tuple[str, int]:
        session = rng.choice(seeded.sessions)
        volunteer, token = rng.choice(seeded.volunteers)
        bearer = {"Authorization": f"Bearer {token}"}
        html = {"Accept": "text/html"}
        if kind == "write":
            if bookings[volunteer] and rng.random() < 0.3:
                booking = bookings[volunteer].pop()
                reply = web.delete(f"/api/v1/signups/{booking}", headers=bearer)
                return "withdraw", reply.status_code
            role = rng.choice(seeded.roles)
            reply = web.post(
                f"/api/v1/sessions/{session}/signups", json={"role": role}, headers=bearer
            )
            if reply.status_code == 201:
                bookings[volunteer].append(reply.get_json()["id"])
            return "signup", reply.status_code
        if kind == "cond":
            if etags:
                path = rng.choice(sorted(etags))
                reply = web.get(path, headers={"If-None-Match": etags[path]})
                return "cond", reply.status_code
            kind = "feed:ward"
        if kind.startswith("feed:"):
            path = feed_path(kind.split(":")[1])
            reply = web.get(path)
            etags[path] = reply.headers.get("ETag", "")
            return kind, reply.status_code
        path = {
            "page:home": "/",
            "page:session": f"/sessions/{session}",
            "page:ward": f"/wards/{rng.choice(seeded.wards)}",
            "page:squad": f"/squads/{rng.choice(seeded.squads)}",
            "api:sessions": f"/api/v1/sessions?ward={rng.choice(seeded.wards)}",
            "api:session": f"/api/v1/sessions/{session}",
            "api:staffing": f"/api/v1/sessions/{session}/staffing",
            "api:bookings": f"/api/v1/volunteers/{volunteer}/assignments",
        }[kind]
        reply = web.get(path, headers=bearer if kind == "api:bookings" else html)
        return kind, reply.status_code

    kinds = [k for group in MIX.values() for k in group]
    weights = [w for group in MIX.values() for w in group.values()]
    for kind in kinds * 2:  # warm: first requests compile templates, connect, ...
        one(kind)
    cpu: dict[str, list[float]] = defaultdict(list)
    queries: dict[str, list[int]] = defaultdict(list)
    statuses: dict[str, set[int]] = defaultdict(set)
    # CPU time, not wall-clock: waiting on PostgreSQL or a busy core is not a cost here.
    profile = cProfile.Profile(time.process_time) if args.profile else None
    load = os.getloadavg()
    printed = False
    for _ in range(args.rounds):
        kind = rng.choices(kinds, weights)[0]
        started, before = time.process_time(), statements[0]
        profiled = profile if not args.only or kind in args.only.split(",") else None
        if profiled:
            profiled.enable()
        done, status = one(kind)
        if profiled:
            profiled.disable()
        cpu[done].append((time.process_time() - started) * 1000)
        statuses[done].add(status)
        queries[done].append(statements[0] - before)
        if done == args.show and not printed:
            printed = True
            print(f"-- the SQL of one {done} ({status}):")
            for statement in shown[before - statements[0] :] if statements[0] > before else []:
                print("  " + " ".join(statement.split())[:160])
    every = [ms for values in cpu.values() for ms in values]
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    mean = statistics.mean(every)
    print(f"CPU per request over the mix ({len(every)} requests): mean {mean:.1f} ms")
    print("| request | n | CPU ms mean | median | SQL statements | statuses |")
    print("|---|---|---|---|---|---|")
    for kind in sorted(cpu):
        values = cpu[kind]
        print(
            f"| {kind} | {len(values)} | {statistics.mean(values):.1f} | "
            f"{statistics.median(values):.1f} | {statistics.mean(queries[kind]):.1f} | "
            f"{sorted(statuses[kind])} |"
        )
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
