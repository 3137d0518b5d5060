"""The relay handing a matching part's commit to Redis: N events, one `publish`.

Records `--events` `assignment.matched` events in one transaction (on a throwaway
PostgreSQL database, the real migrations), then times `relay.publish` of them, wall and
CPU, `--rounds` times (Redis DB flushed and the events unmarked between rounds).

    .venv/bin/python bench/relay.py --events 1000 --rounds 5

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 6379 (the
DB given, flushed). Prints the load average with the figures: the machine may be busy.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _harness as h

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    database = f"bench_relay_{secrets.token_hex(4)}"
    h.create_database(database)
    try:
        run(args, database)
    finally:
        h.drop_database(database)


def run(args: argparse.Namespace, database: str) -> None:
    os.environ.update(
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=args.redis_url,
        SECRET_KEY="bench-only",
        COORDINATOR_INSTANCE_PATH=tempfile.mkdtemp(prefix="bench-relay-"),
    )
    sys.path[:0] = [str(ROOT)]
    import redis
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from coordinator import create_app
    from coordinator.events import outbox, relay
    from coordinator.events.models import DomainEvent
    from coordinator.extensions import db

    connection = redis.Redis.from_url(args.redis_url)
    connection.flushdb()
    app = create_app()
    with app.app_context():
        upgrade()
        state = relay._state()
        state["redis_down_until"] = time.monotonic() + 3600  # the commit must not relay
        items = [(i, {"session_id": i, "ward": "kim_lien"}) for i in range(1, args.events + 1)]
        outbox.record_many("assignment.matched", "session", items)
        db.session.commit()
        ids = list(db.session.scalars(sa.select(DomainEvent.id).order_by(DomainEvent.id)))
        db.session.remove()
        walls, cpus = [], []
        for _ in range(args.rounds):
            connection.flushdb()
            with db.engine.begin() as conn:
                conn.execute(sa.update(DomainEvent).values(enqueued_at=None))
            wall, cpu = time.perf_counter(), time.process_time()
            sent = relay.publish(ids, force=True)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert sent == len(ids), (sent, len(ids))
        again = relay.publish(ids, force=True)  # all marked: a second relay sends nothing
        assert again == 0
        jobs = connection.llen("rq:queue:default"), connection.llen("rq:queue:feeds")
        connection.flushdb()
        db.engine.dispose()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"publish of {len(ids)} events ({jobs[0]} event jobs + {jobs[1]} early jobs): "
        f"wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}), "
        f"CPU median {statistics.median(cpus):.3f} s (min {min(cpus):.3f}), "
        f"{args.rounds} rounds; load average {' '.join(load)}"
    )


if __name__ == "__main__":
    main()
