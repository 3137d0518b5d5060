"""Matching jobs: a whole run, and the repair of one freed seat."""

from __future__ import annotations

from coordinator.extensions import db
from coordinator.matching import operations, progress
from jobs.context import job_context


def run_matching(run_id: int) -> str:
    """Solve and write matching run `run_id` (a finished or failed run is left alone)."""
    with job_context():
        run = operations.execute(run_id, progress=progress.report)
        db.session.commit()
        return "missing" if run is None else run.status


def repair_seat(assignment_id: int) -> str:
    """Fill, with the fewest moves, the seat that booking `assignment_id` gave up."""
    with job_context():
        outcome = operations.repair_freed_seat(assignment_id)
        db.session.commit()
        return outcome
