"""Matching runs end to end on PostgreSQL at city size (issue 18): load, solve, write.

Builds, through bulk inserts consistent with the models, a city like Hanoi today: one
province of `--wards` wards (126) on a grid of neighbours, `--volunteers` volunteers
(20,000; one in five an expert, two or three weekly windows each, at most two sessions a
week) and `--sessions` sessions (5,000) in next month, each with a lead (an expert) and
two helpers. Then measures:

1. one ward's month, in this process: load + solve + write, and the run's commit;
2. the whole city's month in one piece (partitioning off), in this process;
3. the whole city's month partitioned (operations.partition: by week here, the city
   being one component of its neighbour graph) on 1, 2 and 4 `flask worker` processes
   serving the matching queue: from the request's commit to the run's last part
   finishing (the runs' own timestamps);
4. the same run again with nothing changed: what it writes (nothing) and its time.
Between measurements the proposals are removed, so every run starts from nothing.

    .venv/bin/python bench/matching_runs.py [--wards 126] [--volunteers 20000]
        [--sessions 5000] [--workers 1,2,4] [--redis-url redis://127.0.0.1:6379/10]
        [--keep]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis; creates the
database `squads_bench_runs_<pid>` and drops it at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _harness as h  # noqa: E402

print = functools.partial(print)  # noqa: A001 - progress as it comes
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SKILLS = ["smartphone_basics", "online_services", "cashless_payments", "scam_awareness"]
STARTS = [(8, 0), (9, 30), (14, 0), (15, 30), (18, 0), (19, 30)]


def next_month() -> tuple[datetime, datetime]:
    today = datetime.now(HANOI)
    first = (today.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def build(args, rng: random.Random) -> None:
    """The city, through bulk inserts of the models' tables (their defaults apply)."""
    import sqlalchemy as sa

    from coordinator.competences.operations import import_framework_file
    from coordinator.demo import DATA
    from coordinator.extensions import db
    from coordinator.geography.models import Province, Ward, ward_neighbors
    from coordinator.people.models import AvailabilityWindow, Volunteer
    from coordinator.sessions.models import SessionRole, TrainingSession

    import_framework_file(DATA / "competences_digcomp22.json")
    db.session.add(Province(code="BC", slug="bench_city", name="Bench city", type="thanh_pho"))
    columns = 14
    codes = [f"w{n:03d}" for n in range(args.wards)]
    db.session.execute(
        sa.insert(Ward),
        [{"code": c, "name": c, "province_code": "BC", "type": "phuong"} for c in codes],
    )
    edges = []
    for n, code in enumerate(codes):
        if (n + 1) % columns and n + 1 < len(codes):
            edges.append({"ward_code": code, "neighbor_code": codes[n + 1]})
        if n + columns < len(codes):
            edges.append({"ward_code": code, "neighbor_code": codes[n + columns]})
    db.session.execute(ward_neighbors.insert(), edges)
    volunteers = []
    for n in range(args.volunteers):
        volunteers.append(
            {
                "full_name": f"Tình nguyện viên {n}",
                "email": f"v{n}@bench.squads.vn",
                "home_ward": codes[n % len(codes)],
                "skills": rng.sample(SKILLS, rng.randint(1, 3)),
                "is_expert": rng.random() < 0.2,
                "max_sessions_per_week": 2,
            }
        )
    ids = db.session.scalars(sa.insert(Volunteer).returning(Volunteer.id), volunteers).all()
    windows = []
    for volunteer_id in ids:
        for weekday in rng.sample(range(7), rng.randint(2, 3)):
            start = rng.choice([7 * 60, 13 * 60, 17 * 60 + 30])
            windows.append(
                {
                    "volunteer_id": volunteer_id,
                    "weekday": weekday,
                    "start_minute": start,
                    "end_minute": start + 4 * 60,
                }
            )
    db.session.execute(sa.insert(AvailabilityWindow), windows)
    first, following = next_month()
    days = (following - first).days
    sessions = []
    for n in range(args.sessions):
        hour, minute = rng.choice(STARTS)
        starts = (first + timedelta(days=rng.randrange(days))).replace(hour=hour, minute=minute)
        sessions.append(
            {
                "title": f"Kỹ năng số {n}",
                "description": "",
                "competence_area": "1",
                "target_group": "residents",
                "ward": codes[n % len(codes)],
                "venue": "Nhà văn hóa",
                "venue_accessibility": [],
                "starts_at": starts.astimezone(UTC),
                "ends_at": (starts + timedelta(minutes=90)).astimezone(UTC),
                "capacity": 30,
                "participant_needs": [],
                "languages": ["vi"],
                "status": "published",
            }
        )
    session_ids = db.session.scalars(
        sa.insert(TrainingSession).returning(TrainingSession.id), sessions
    ).all()
    roles = []
    for session_id in session_ids:
        roles.append(
            {
                "session_id": session_id,
                "role": "lead",
                "count": 1,
                "taken": 0,
                "required_skills": ["smartphone_basics"],
            }
        )
        roles.append(
            {
                "session_id": session_id,
                "role": "helper",
                "count": 2,
                "taken": 0,
                "required_skills": [],
            }
        )
    db.session.execute(sa.insert(SessionRole), roles)
    db.session.commit()


def reset() -> None:
    """No proposals, no runs, no events: every measurement starts from nothing."""
    import sqlalchemy as sa

    from coordinator.extensions import db

    for statement in (
        "DELETE FROM notifications",
        "DELETE FROM assignments",
        "UPDATE session_roles SET taken = 0",
        "DELETE FROM matching_runs",
        "DELETE FROM domain_events",
    ):
        db.session.execute(sa.text(statement))
    db.session.commit()


def counts() -> dict:
    import sqlalchemy as sa

    from coordinator.extensions import db

    db.session.rollback()
    return {
        "proposals": db.session.scalar(
            sa.text("SELECT count(*) FROM assignments WHERE status = 'proposed'")
        ),
        "events": db.session.scalar(sa.text("SELECT count(*) FROM domain_events")),
        "updated": db.session.scalar(sa.text("SELECT max(updated_at) FROM assignments")),
    }


def in_process(app, ward: str | None) -> dict:
    """Request a run and execute it here: load + solve + write, then its commit."""
    from coordinator.extensions import db
    from coordinator.matching import operations

    first, following = next_month()
    run = operations.request_run(ward=ward, window_from=first, window_to=following)
    db.session.commit()
    began = time.perf_counter()
    run = operations.execute(run.id)
    db.session.commit()
    wall = time.perf_counter() - began
    return {"wall": wall, "filled": run.filled, "unfilled": run.unfilled, "stats": run.stats}


def on_workers(env: dict, count: int, workdir: Path) -> dict:
    """Request a whole-city run, let `count` worker processes (matching queue) run its
    parts; the time from the request's commit to the run finishing."""
    import sqlalchemy as sa

    from coordinator.extensions import db, redis_connection
    from coordinator.matching import operations
    from coordinator.matching.models import MatchingRun

    workers = h.start_matching_workers(
        env, count, workdir, lambda: len(redis_connection.client.smembers("rq:workers"))
    )
    try:
        first, following = next_month()
        run = operations.request_run(window_from=first, window_to=following)
        db.session.commit()  # the relay enqueues its job after this commit
        run_id = run.id
        deadline = time.monotonic() + 900
        while True:  # a fresh statement each time: the identity map would answer from memory
            status = db.session.scalar(
                sa.select(MatchingRun.status).where(MatchingRun.id == run_id)
            )
            db.session.rollback()
            if status in ("finished", "failed"):
                db.session.expire_all()
                run = db.session.get(MatchingRun, run_id)
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"run {run_id} did not finish")
            time.sleep(0.1)
        parts = db.session.scalars(
            sa.select(MatchingRun).where(MatchingRun.parent_id == run_id)
        ).all()
        return {
            "wall": (run.finished_at - run.created_at).total_seconds(),
            "status": run.status,
            "error": run.error,
            "filled": run.filled,
            "unfilled": run.unfilled,
            "parts": len(parts),
            "part_walls": sorted(
                round((p.finished_at - p.started_at).total_seconds(), 2) for p in parts
            ),
        }
    finally:
        for worker in workers:
            h.stop_process(worker)
        redis_connection.client.delete(*redis_connection.client.keys("rq:*") or ["none"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wards", type=int, default=126)
    parser.add_argument("--volunteers", type=int, default=20000)
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    name = f"squads_bench_runs_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    env = h.bench_environment(name, str(workdir), args.redis_url)
    env["MATCHING_PRIORITY_WEIGHT"] = "0"  # no targets in this city
    os.environ.update(env)
    import redis

    if redis.Redis.from_url(args.redis_url).dbsize():
        raise SystemExit(f"{args.redis_url} is not empty: give another --redis-url")
    h.create_database(name)
    try:
        h.migrate(env)
        from coordinator import create_app
        from coordinator.extensions import db

        app = create_app()
        with app.app_context():
            began = time.perf_counter()
            build(args, random.Random(args.seed))
            print(
                f"built {args.wards} wards, {args.volunteers:,} volunteers, "
                f"{args.sessions:,} sessions in {time.perf_counter() - began:.1f} s"
            )
            print(f"load average before: {os.getloadavg()}")
            app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False  # in-process runs: no jobs
            ward = in_process(app, "w063")
            print(
                f"one ward's month: {ward['wall']:.2f} s end to end, filled {ward['filled']}, "
                f"unfilled {ward['unfilled']}, engine {ward['stats'].get('seconds', 0):.2f} s"
            )
            reset()
            app.config["MATCHING_PARTITION_MIN_SESSIONS"] = 10**9
            whole = in_process(app, None)
            print(
                f"whole city in one piece, this process: {whole['wall']:.2f} s, "
                f"filled {whole['filled']}, unfilled {whole['unfilled']}, "
                f"engine {whole['stats'].get('seconds', 0):.2f} s"
            )
            app.config["MATCHING_PARTITION_MIN_SESSIONS"] = 300
            app.config["OUTBOX_RELAY_AFTER_COMMIT"] = True
            for count in [int(n) for n in args.workers.split(",")]:
                reset()
                result = on_workers(env, count, workdir)
                print(
                    f"whole city partitioned, {count} worker(s): {result['wall']:.2f} s "
                    f"({result['status']}, {result['parts']} parts of "
                    f"{result['part_walls']} s), filled {result['filled']}, "
                    f"unfilled {result['unfilled']}; load average {os.getloadavg()}"
                )
            before = counts()
            again = on_workers(env, 2, workdir)
            after = counts()
            print(
                f"again with nothing changed, 2 workers: {again['wall']:.2f} s; proposals "
                f"{before['proposals']} -> {after['proposals']}, new events "
                f"{after['events'] - before['events']} (the requests' own: 1 + one per "
                f"part), assignments updated since: {after['updated'] != before['updated']}"
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            h.drop_database(name)
        redis.Redis.from_url(args.redis_url).flushdb()


if __name__ == "__main__":
    main()
