"""Progress jobs: the maintained counts behind the progress reports."""

from __future__ import annotations

from coordinator.extensions import db
from coordinator.progress import hours_kept, levels
from jobs.context import job_context


def refresh_counts() -> int:
    """Recompute the progress counts, the report rows kept per level and the kept hours
    (idempotent: the same rows however often it runs)."""
    with job_context():
        written = levels.refresh() + hours_kept.refresh()
        db.session.commit()
        return written
