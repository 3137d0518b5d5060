"""Jobs for the fault tests only, enqueued straight on RQ (the app's helper enqueues
nothing outside jobs/): a job that keeps a worker busy."""

from __future__ import annotations

import time


def nap(seconds: float) -> str:
    """Hold the work-horse for `seconds`."""
    time.sleep(seconds)
    return "rested"
