"""The one place background work is enqueued: queues, timeouts, retries, TTLs, job ids.

Jobs are the thin entry points in `jobs/`, named here by their import path: the app
never imports `jobs/` (jobs import the features, not the reverse), and RQ imports the
function by that path in the worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from rq import Queue, Retry
from rq.job import Job

from coordinator.extensions import redis_connection

PROCESS_EVENT = "jobs.events.process_event"
PROCESS_EARLY = "jobs.events.process_early"
RUN_MATCHING = "jobs.matching.run_matching"
REPAIR_SEAT = "jobs.matching.repair_seat"
DELIVER_NOTIFICATION = "jobs.notifications.deliver_notification"
SWEEP_NOTIFICATIONS = "jobs.notifications.sweep_notifications"
CHECK_ZALO_DELIVERY = "jobs.notifications.check_zalo_delivery"
RUN_IMPORT = "jobs.imports.run_import"
EXPIRE_PROPOSAL = "jobs.bookings.expire_proposal"
REFRESH_PROGRESS_COUNTS = "jobs.progress.refresh_counts"
JOB_PATHS = (
    PROCESS_EVENT,
    PROCESS_EARLY,
    RUN_MATCHING,
    REPAIR_SEAT,
    DELIVER_NOTIFICATION,
    SWEEP_NOTIFICATIONS,
    CHECK_ZALO_DELIVERY,
    RUN_IMPORT,
    EXPIRE_PROPOSAL,
    REFRESH_PROGRESS_COUNTS,
)

DEFAULT_RETRY = Retry(max=3, interval=[5, 30, 60])
# Mail servers have longer outages than our own services: back off up to an hour.
MAIL_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])
RESULT_TTL_SECONDS = 24 * 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600


def get_queue(name: str = "default") -> Queue:
    """The RQ queue `name` on the app's Redis, with the app's job timeout."""
    return Queue(
        name,
        connection=redis_connection.client,
        default_timeout=current_app.config["RQ_JOB_TIMEOUT"],
    )


def enqueue(
    job: str,
    *args: int | str,
    queue: str = "default",
    job_id: str | None = None,
    unique: bool = False,
    retry: Retry | None = DEFAULT_RETRY,
    delay: timedelta | None = None,
    at: datetime | None = None,
) -> Job:
    """Enqueue the job at import path `job` with `args` (after `delay`, or at the aware
    datetime `at`, on RQ's scheduler). Arguments are ids and codes only, never personal
    data; the description names the job and its id so no argument reaches a log line."""
    if job not in JOB_PATHS:
        raise ValueError(f"not a job of jobs/: {job}")
    q = get_queue(queue)
    options = {
        "job_id": job_id,
        "unique": unique,
        "retry": retry,
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": FAILURE_TTL_SECONDS,
        "description": f"{job}#{job_id or 'anon'}",
    }
    if at is not None:
        return q.enqueue_at(at, job, *args, **options)
    if delay:
        return q.enqueue_in(delay, job, *args, **options)
    return q.enqueue(job, *args, **options)
