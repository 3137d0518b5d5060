"""Jobs for the fault tests only, enqueued straight on RQ (the app's helper enqueues
nothing outside jobs/): a job that keeps a worker busy, one that configures mappers."""

from __future__ import annotations

import time

from sqlalchemy.orm.mapper import _CONFIGURE_MUTEX


def nap(seconds: float) -> str:
    """Hold the work-horse for `seconds`."""
    time.sleep(seconds)
    return "rested"


def configure_mappers() -> str:
    """Take SQLAlchemy's mapper-configure mutex, as a horse's first ORM query does."""
    with _CONFIGURE_MUTEX:
        return "configured"
