"""Jobs for the fault tests only, enqueued straight on RQ (the app's helper enqueues
nothing outside jobs/): a job that keeps a worker busy, one that configures mappers, and
the jobs of the inline-worker tests."""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import text
from sqlalchemy.orm.mapper import _CONFIGURE_MUTEX


def nap(seconds: float) -> str:
    """Hold the work-horse for `seconds`."""
    time.sleep(seconds)
    return "rested"


def configure_mappers() -> str:
    """Take SQLAlchemy's mapper-configure mutex, as a horse's first ORM query does."""
    with _CONFIGURE_MUTEX:
        return "configured"


def process_id() -> int:
    """The pid of the process that ran the job: the worker's own, or a work-horse's."""
    return os.getpid()


def crash(how: str) -> str:
    """Fail as a buggy job might: an exception, or a call to sys.exit."""
    if how == "exit":
        sys.exit(3)
    raise RuntimeError("the job broke")


def hold_the_database(seconds: float) -> str:
    """Wait `seconds` inside a database statement (PostgreSQL's pg_sleep; on SQLite, in
    Python after one), holding the app's session and its transaction."""
    from coordinator.extensions import db
    from jobs.context import job_context

    with job_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        else:
            db.session.execute(text("SELECT 1"))
            time.sleep(seconds)
    return "held"


def count_users() -> int:
    """One query through the app's session: the database still answers the worker."""
    from coordinator.extensions import db
    from jobs.context import job_context

    with job_context():
        return int(db.session.execute(text("SELECT count(*) FROM users")).scalar_one())


def shut_redis_down_once(url: str, marker: str) -> str:
    """Shut the test's own redis-server down (it writes its append-only file first) the
    first time, from inside the job; the retry only answers."""
    import redis

    if os.path.exists(marker):
        return "retried"
    open(marker, "w").close()
    redis.Redis.from_url(url).shutdown()
    return "shut down"
