"""The one place jobs are enqueued: queues, timeouts, retries, TTLs and job ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from rq import Queue, Retry

from coordinator.extensions import redis_connection

# Event types whose handlers do heavy work get their own queue, so a burst of
# matching cannot delay a reminder.
QUEUE_BY_EVENT_PREFIX = {"matching.": "matching", "notification.": "notifications"}
# Events that wait on the scheduler, so that those arriving meanwhile join their work.
DEBOUNCED_EVENTS = frozenset({"matching.run_scheduled"})
DEFAULT_RETRY = Retry(max=3, interval=[5, 30, 60])
# Mail servers have longer outages than our own services: back off up to an hour.
MAIL_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])
RESULT_TTL_SECONDS = 24 * 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600


def get_queue(name: str = "default") -> Queue:
    return Queue(
        name,
        connection=redis_connection.client,
        default_timeout=current_app.config["RQ_JOB_TIMEOUT"],
    )


def enqueue(
    func: Callable,
    *args: int | str,
    queue: str = "default",
    job_id: str | None = None,
    unique: bool = False,
    retry: Retry | None = DEFAULT_RETRY,
    delay: timedelta | None = None,
    at: datetime | None = None,
):
    """Enqueue `func(*args)` (after `delay`, or at the aware datetime `at`, on RQ's
    scheduler). Arguments are ids and codes only, never personal data; the description
    names the function and job id so no argument reaches a log line."""
    q = get_queue(queue)
    if at is not None:
        schedule, when = q.enqueue_at, (at,)
    elif delay:
        schedule, when = q.enqueue_in, (delay,)
    else:
        schedule, when = q.enqueue, ()
    return schedule(
        *when,
        func,
        *args,
        job_id=job_id,
        unique=unique,
        retry=retry,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
        description=f"{func.__module__}.{func.__name__}#{job_id or 'anon'}",
    )


def queue_for_event(event_type: str) -> str:
    for prefix, name in QUEUE_BY_EVENT_PREFIX.items():
        if event_type.startswith(prefix):
            return name
    return "default"


def enqueue_event(event_id: int, event_type: str):
    """Enqueue the processing of one committed domain event (unique job id)."""
    from jobs.events import process_event

    delay = None
    if event_type in DEBOUNCED_EVENTS:
        seconds = current_app.config["MATCHING_DEBOUNCE_SECONDS"]
        delay = timedelta(seconds=seconds) if seconds > 0 else None
    return enqueue(
        process_event,
        event_id,
        queue=queue_for_event(event_type),
        job_id=f"evt-{event_id}",
        unique=True,
        delay=delay,
    )
