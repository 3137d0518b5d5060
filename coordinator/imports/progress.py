"""An import's live status: the database row, with the worker's progress from the job."""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from coordinator.extensions import redis_connection
from coordinator.imports.models import ImportJob
from coordinator.imports.operations import import_view

log = logging.getLogger(__name__)


def report(fraction: float) -> None:
    """Called by the importer while it works: kept in the RQ job's meta."""
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = {"stage": "importing", "fraction": round(fraction, 3)}
        job.save_meta()


def _job(job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis_connection.client)
    except NoSuchJobError:
        return None
    except redis.RedisError as exc:  # progress is a nicety; the row is the truth
        log.warning("no progress for %s: %s", job_id, exc)
        return None


def status_view(job: ImportJob) -> dict[str, Any]:
    """The import's fields, with the RQ job's progress while it works (and `failed` when
    the job gave up before the import could record anything)."""
    view = import_view(job)
    view["progress"] = {"stage": "done", "fraction": 1.0} if job.status == "finished" else None
    if job.status in ("queued", "running"):
        rq_job = _job(job.job_id)
        if rq_job is not None:
            view["progress"] = rq_job.meta.get("progress")
            if rq_job.is_failed:
                view["status"] = "failed"
    return view
