"""The service's idea of now: NOTIFICATION_CLOCK when set (tests drive time with it, and
RQ's scheduler reads the same clock), else the real time. Deadlines that jobs act on at
a time (proposal expiry, messages) read it, so a test moves them all together."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from coordinator.database import utcnow


def now() -> datetime:
    """Now, from NOTIFICATION_CLOCK when set, else the real time."""
    clock = current_app.config.get("NOTIFICATION_CLOCK") or utcnow
    result: datetime = clock()
    return result
