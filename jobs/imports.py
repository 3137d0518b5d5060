"""Import jobs: one uploaded CSV file (volunteers or population targets)."""

from __future__ import annotations

from coordinator.extensions import db
from coordinator.imports import operations, progress
from jobs.context import job_context


def run_import(import_id: int) -> str:
    """Import the file of import `import_id` (a finished or failed one is left alone)."""
    with job_context():
        job = operations.execute(import_id, progress=progress.report)
        db.session.commit()
        return "missing" if job is None else job.status
