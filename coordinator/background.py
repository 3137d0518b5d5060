"""The one place background work is enqueued: queues, timeouts, retries, TTLs, job ids.

Jobs are the thin entry points in `jobs/`, named here by their import path: the app
never imports `jobs/` (jobs import the features, not the reverse), and RQ imports the
function by that path in the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from flask import current_app
from rq import Queue, Retry
from rq.job import Job
from rq.scripts import _build_hset_args, get_unique_enqueue_script

from coordinator.extensions import redis_connection

PROCESS_EVENT = "jobs.events.process_event"
PROCESS_EARLY = "jobs.events.process_early"
PROCESS_EARLY_MANY = "jobs.events.process_early_many"
RUN_MATCHING = "jobs.matching.run_matching"
REPAIR_SEAT = "jobs.matching.repair_seat"
DELIVER_NOTIFICATION = "jobs.notifications.deliver_notification"
SWEEP_NOTIFICATIONS = "jobs.notifications.sweep_notifications"
CHECK_ZALO_DELIVERY = "jobs.notifications.check_zalo_delivery"
RUN_IMPORT = "jobs.imports.run_import"
EXPIRE_PROPOSAL = "jobs.bookings.expire_proposal"
REFRESH_PROGRESS_COUNTS = "jobs.progress.refresh_counts"
LAPSE_COVER_REQUEST = "jobs.bookings.lapse_cover_request"
ASK_ATTENDANCE = "jobs.bookings.ask_attendance"
JOB_PATHS = (
    PROCESS_EVENT,
    PROCESS_EARLY,
    PROCESS_EARLY_MANY,
    RUN_MATCHING,
    REPAIR_SEAT,
    DELIVER_NOTIFICATION,
    SWEEP_NOTIFICATIONS,
    CHECK_ZALO_DELIVERY,
    RUN_IMPORT,
    EXPIRE_PROPOSAL,
    REFRESH_PROGRESS_COUNTS,
    LAPSE_COVER_REQUEST,
    ASK_ATTENDANCE,
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


def _options(job: str, job_id: str | None, unique: bool, retry: Retry | None) -> dict:
    """The options every job gets, pipelined or not (the one place that builds them)."""
    if job not in JOB_PATHS:
        raise ValueError(f"not a job of jobs/: {job}")
    return {
        "job_id": job_id,
        "unique": unique,
        "retry": retry,
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": FAILURE_TTL_SECONDS,
        "description": f"{job}#{job_id or 'anon'}",
    }


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
    options = _options(job, job_id, unique, retry)
    q = get_queue(queue)
    if at is not None:
        return q.enqueue_at(at, job, *args, **options)
    if delay:
        return q.enqueue_in(delay, job, *args, **options)
    return q.enqueue(job, *args, **options)


@dataclass(frozen=True)
class UniqueJob:
    """A job to enqueue now under its own id, unless a job of that id exists."""

    job: str
    args: tuple[int | str | tuple[int, ...], ...]
    queue: str
    job_id: str
    retry: Retry | None = DEFAULT_RETRY


def enqueue_unique_many(jobs: Sequence[UniqueJob]) -> list[bool | redis.ResponseError]:
    """Enqueue these unique jobs in one pipelined round trip. For each job, in order:
    True if enqueued now, False if a job of its id already existed (RQ's `unique=True`),
    or the error Redis answered for it (out of memory...). A lost connection raises: then
    any of them may or may not have reached Redis, and sending them again is harmless.

    `unique=True` ignores a pipeline in RQ (it runs its Lua script at once), so this runs
    that same script, RQ's check-save-push in one atomic step, once per job on a pipeline.
    It leans on two private helpers of rq 3.0.0 (pinned; `_prepare_for_queue` and
    `_build_hset_args`), as `Queue.enqueue_job(unique=True)` does: tests/events checks the
    jobs it writes against those `enqueue` writes.
    """
    client = redis_connection.client
    queues = {name: get_queue(name) for name in {spec.queue for spec in jobs}}
    script = get_unique_enqueue_script(client)
    with client.pipeline(transaction=False) as pipe:
        for queue in queues.values():
            pipe.sadd(queue.redis_queues_keys, queue.key)  # as Queue.enqueue_job does
        for spec in jobs:
            queue = queues[spec.queue]
            options = _options(spec.job, spec.job_id, True, spec.retry)
            del options["unique"]
            job = queue.create_job(spec.job, args=spec.args, **options)
            queue._prepare_for_queue(job)  # origin, enqueued_at, timeout, status: as RQ does
            ttl = job.ttl if job.ttl is not None else -1
            script(
                keys=[job.key, queue.key],
                args=[job.id, "R", ttl, *_build_hset_args(job)],
                client=pipe,
            )
        results = pipe.execute(raise_on_error=False)
    answers = results[len(queues) :]
    return [a if isinstance(a, redis.ResponseError) else a == 1 for a in answers]
