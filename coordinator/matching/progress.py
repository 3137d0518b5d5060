"""A run's live status: the database row, with the worker's progress from the job."""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from coordinator.extensions import redis_connection
from coordinator.matching.models import MatchingRun
from coordinator.matching.reasons import reasons_text

log = logging.getLogger(__name__)


def report(stage: str, fraction: float) -> None:
    """Called by the engine while it works: kept in the RQ job's meta. A Redis that is
    away is no reason to stop: raised inside the engine, its error was recorded as the
    engine's own defect and failed the run for good (the row is the truth)."""
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = {"stage": stage, "fraction": round(fraction, 3)}
        try:
            job.save_meta()
        except redis.RedisError as exc:
            log.warning("progress of job %s not saved: %s", job.id, exc)


def _job(run: MatchingRun) -> Job | None:
    try:
        return Job.fetch(run.job_id, connection=redis_connection.client)
    except NoSuchJobError:
        return None
    except redis.RedisError as exc:  # progress is a nicety; the row is the truth
        log.warning("no progress for run %s: %s", run.id, exc)
        return None


def run_view(run: MatchingRun) -> dict[str, Any]:
    """The run's fields, with the job's progress while it works (and `failed` when the
    job gave up before the run could record anything)."""
    view = {c.key: getattr(run, c.key) for c in run.__table__.columns}
    view["progress"] = {"stage": "done", "fraction": 1.0} if run.status == "finished" else None
    if run.status in ("queued", "running"):
        job = _job(run)
        if job is not None:
            view["progress"] = job.meta.get("progress")
            if job.is_failed:
                view["status"] = "failed"
    return view


def run_in_words(run: MatchingRun) -> dict[str, Any]:
    """`run_view` with the reasons (stored as codes) in the reader's language, for the
    run's page and API (copies: the row stays as it is)."""
    view, said = run_view(run), {}
    for field in ("proposals", "unfilled_detail"):
        view[field] = [
            {**row, "reasons": reasons_text(row.get("reasons") or (), said)}
            for row in view[field] or ()
        ]
    return view
