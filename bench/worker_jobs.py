"""What the RQ worker spends on small jobs: forked per job, or in its own process.

On a copy of a city kept by `bench/scale.py --keep` (`--template`), records `--events`
`assignment.matched` events of the city's sessions (what a matching run's commit
writes, and what the mixed load's drain waits for), relays them (one job each on
`default`, one early job each on `feeds`), then runs `flask --app wsgi worker --burst
--queues feeds,default` until both queues are empty, with WORKER_INLINE_QUEUES empty
(every job forks: A) and with its default (`feeds,default` inline: B), `--rounds` times
each, interleaved A B A B ... (the events are set back to unprocessed and relayed again
before each run; a first run of each is a warm-up, not counted). Reports per run the
wall time, the worker's CPU time (user and system, its work-horses included: they are
its reaped children) and the jobs run, and the same of a worker with empty queues (the
start-up, subtracted in the per-job figures).

    .venv/bin/python bench/worker_jobs.py --template bench_city --events 500 --rounds 3

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis (the empty DB
given, flushed at the end). Prints the load average with every figure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness as h

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"A (fork per job)": "", "B (feeds,default inline)": "feeds,default"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True, help="a database kept by scale.py")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    database = f"bench_jobs_{secrets.token_hex(4)}"
    h.create_database(database, template=args.template)
    try:
        run(args, database)
    finally:
        h.drop_database(database)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_worker(env: dict, inline: str) -> tuple[float, float, float]:
    """A burst worker on feeds and default: wall, user and system CPU seconds."""
    argv = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "worker", "--burst"]
    argv += ["--queues", "feeds,default"]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "WORKER_INLINE_QUEUES": inline},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = status  # reaped here, not by Popen
        if status != 0:
            log.seek(0)
            raise RuntimeError(f"worker exited with {status}: {log.read().decode()[-2000:]}")
    return wall, usage.ru_utime, usage.ru_stime


def run(args: argparse.Namespace, database: str) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=args.redis_url,
        SECRET_KEY="bench-only",
        COORDINATOR_INSTANCE_PATH=tempfile.mkdtemp(prefix="bench-jobs-"),
        OUTBOX_RELAY_AFTER_COMMIT="false",
        PROGRESS_COUNTS_REFRESH="false",
    )
    os.environ.update(env)
    sys.path[:0] = [str(ROOT)]
    import redis
    import sqlalchemy as sa

    from coordinator import create_app
    from coordinator.events import outbox, relay
    from coordinator.events.models import DomainEvent
    from coordinator.extensions import db
    from coordinator.sessions.models import TrainingSession as Session

    connection = redis.Redis.from_url(args.redis_url)
    if connection.dbsize():
        sys.exit(f"{args.redis_url} holds keys: give an empty Redis database")
    app = create_app()
    with app.app_context():
        # The city's own events stand for what was there before: out of the sweeps' way.
        db.session.execute(
            sa.update(DomainEvent).values(
                processed_at=sa.func.coalesce(DomainEvent.processed_at, sa.func.now()),
                enqueued_at=sa.func.coalesce(DomainEvent.enqueued_at, sa.func.now()),
            )
        )
        sessions = db.session.scalars(
            sa.select(Session).where(Session.starts_at > sa.func.now()).limit(args.events)
        ).all()
        items = [
            (
                s.id,
                {"session_id": s.id, "ward": s.ward, "proposed": [], "retracted": []},
            )
            for s in sessions
        ]
        outbox.record_many("assignment.matched", "session", items)
        db.session.commit()
        ids = list(
            db.session.scalars(sa.select(DomainEvent.id).where(DomainEvent.processed_at.is_(None)))
        )
        db.session.remove()

        def relay_again() -> None:
            connection.flushdb()
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(DomainEvent)
                    .where(DomainEvent.id.in_(ids))
                    .values(enqueued_at=None, processed_at=None)
                )
            sent = relay.publish(ids, force=True)
            assert sent == len(ids), (sent, len(ids))

        def processed() -> int:
            with db.engine.connect() as conn:
                return conn.execute(
                    sa.select(sa.func.count())
                    .select_from(DomainEvent)
                    .where(DomainEvent.id.in_(ids), DomainEvent.processed_at.is_not(None))
                ).scalar_one()

        print(f"{len(ids)} events on {len(sessions)} sessions of {args.template}; load {load()}")
        with db.engine.begin() as conn:  # out of the start-up sweeps' way
            conn.execute(
                sa.update(DomainEvent)
                .where(DomainEvent.id.in_(ids))
                .values(enqueued_at=sa.func.now(), processed_at=sa.func.now())
            )
        connection.flushdb()
        empty = [run_worker(env, "") for _ in range(2)]
        startup = min(u + s for _, u, s in empty)
        print(f"a worker with empty queues: CPU {startup:.2f} s (min of 2); load {load()}")
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
        for round_number in range(args.rounds + 1):
            for name, inline in VARIANTS.items():
                relay_again()
                jobs = connection.llen("rq:queue:feeds") + connection.llen("rq:queue:default")
                before = load()
                wall, user, system = run_worker(env, inline)
                done = processed()
                tag = "warm-up" if round_number == 0 else f"round {round_number}"
                print(
                    f"{tag:8} {name:26} {jobs} jobs, {done}/{len(ids)} events processed: "
                    f"wall {wall:6.2f} s, CPU user {user:6.2f} s + system {system:6.2f} s; "
                    f"load {before} before"
                )
                if round_number:
                    results[name].append((wall, user, system))
        connection.flushdb()
        db.engine.dispose()
    print()
    for name, runs in results.items():
        cpus = [u + s - startup for _, u, s in runs]
        walls = [w for w, _, _ in runs]
        per_job = [1000 * c / (2 * len(ids)) for c in cpus]
        print(
            f"{name:26} CPU beyond start-up: median {statistics.median(cpus):.2f} s "
            f"({statistics.median(per_job):.1f} ms a job; worst {max(per_job):.1f}), "
            f"system share {statistics.median([s / (u + s) for _, u, s in runs]):.0%}; "
            f"wall median {statistics.median(walls):.2f} s (worst {max(walls):.2f})"
        )
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
