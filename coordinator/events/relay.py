"""The relay: enqueue committed events on RQ, mark them, and sweep up stragglers.

An event is enqueued only after its transaction committed, under the job id
`evt-<id>` with `unique=True`, so a second relay of the same event is a no-op in Redis.
A commit's events go in pipelined round trips (`RELAY_BATCH` at a time), each batch
with one early job per early queue for all its events (`early_jobs`). If Redis is
down, or refuses midway, the events not handed over stay unmarked in the database and
the sweep sends them later.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError, InvalidJobOperation
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.utils import as_text
from sqlalchemy.engine import Row

from coordinator.background import (
    FAILURE_TTL_SECONDS,
    PROCESS_EARLY,
    PROCESS_EARLY_MANY,
    PROCESS_EVENT,
    UniqueJob,
    enqueue,
    enqueue_unique_many,
)
from coordinator.database import utcnow
from coordinator.events.dispatch import early_queues
from coordinator.events.models import DomainEvent
from coordinator.extensions import db, redis_connection

log = logging.getLogger(__name__)

# After Redis fails, requests skip the after-commit relay for a while (the sweep catches
# up) instead of each paying a connection timeout.
REDIS_BACKOFF_SECONDS = 10.0
# Events handed to Redis per pipelined round trip: a matching part's commit (~1,000
# events) in a few, without one huge request.
RELAY_BATCH = 500
# Event types whose handlers do heavy work get their own queue, so a burst of
# matching cannot delay a reminder.
QUEUE_BY_EVENT_PREFIX = {"matching.": "matching", "notification.": "notifications"}
QUEUES = ("default", *QUEUE_BY_EVENT_PREFIX.values())
# Events that wait on the scheduler, so that those arriving meanwhile join their work.
DEBOUNCED_EVENTS = frozenset({"matching.run_scheduled"})
# An event unprocessed this long after it happened is late: logged by the sweep, shown
# by /healthz.
LATE_AFTER = timedelta(minutes=10)
FAILED = frozenset({JobStatus.FAILED, JobStatus.STOPPED})  # both in FailedJobRegistry
# Statuses under which a queue or a registry of RQ must hold a job for it to run again.
HELD = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED}) | FAILED


def queue_for_event(event_type: str) -> str:
    """The queue an event's job goes to."""
    for prefix, name in QUEUE_BY_EVENT_PREFIX.items():
        if event_type.startswith(prefix):
            return name
    return "default"


def event_jobs(event_id: int, event_type: str) -> list[UniqueJob]:
    """The jobs of one committed event: its early jobs first (a feed must not wait),
    then its own; each under a unique id, so relaying an event twice is a no-op."""
    early = [
        UniqueJob(PROCESS_EARLY, (event_id, queue), queue, f"early-{event_id}-{queue}")
        for queue in sorted(early_queues(event_type))
    ]
    own = UniqueJob(
        PROCESS_EVENT, (event_id,), queue_for_event(event_type), DomainEvent.job_id_for(event_id)
    )
    return [*early, own]


def _debounce(event_type: str) -> timedelta | None:
    if event_type not in DEBOUNCED_EVENTS:
        return None
    seconds = current_app.config["MATCHING_DEBOUNCE_SECONDS"]
    return timedelta(seconds=seconds) if seconds > 0 else None


def early_jobs(events: Sequence[tuple[int, str]]) -> list[UniqueJob]:
    """The early jobs of events committed and handed over together: one per early queue
    for all of them (a matching commit's thousand session events: one feed job, not a
    thousand). Its id names its events (a hash of their ids), so relaying the same
    events again is a no-op, and relaying some of them with others is a new job: an
    invalidation done twice is harmless, one never done is not."""
    queues_of: dict[str, set[str]] = {}
    by_queue: dict[str, list[int]] = {}
    for event_id, event_type in events:
        if event_type not in queues_of:
            queues_of[event_type] = early_queues(event_type)
        for queue in queues_of[event_type]:
            by_queue.setdefault(queue, []).append(event_id)
    jobs = []
    for queue, ids in sorted(by_queue.items()):
        ids = sorted(set(ids))
        if len(ids) == 1:  # the id a single event's early job has (`event_jobs`)
            job_id = f"early-{ids[0]}-{queue}"
        else:
            digest = hashlib.sha1(
                ",".join(map(str, ids)).encode(), usedforsecurity=False
            ).hexdigest()[:16]
            job_id = f"early-{ids[0]}-{ids[-1]}-{digest}-{queue}"
        jobs.append(UniqueJob(PROCESS_EARLY_MANY, (tuple(ids), queue), queue, job_id))
    return jobs


def enqueue_event(event_id: int, event_type: str) -> Job:
    """Enqueue the processing of one committed domain event (unique job id; a debounced
    one waits on the scheduler). Raises DuplicateJobError if its job exists."""
    *early, own = event_jobs(event_id, event_type)
    for spec in early:
        try:
            enqueue(spec.job, *spec.args, queue=spec.queue, job_id=spec.job_id, unique=True)
        except DuplicateJobError:
            pass
    return enqueue(
        own.job,
        *own.args,
        queue=own.queue,
        job_id=own.job_id,
        unique=True,
        delay=_debounce(event_type),
    )


def _hand_over(
    events: Sequence[Row[tuple[int, str]]] | Sequence[tuple[int, str]],
) -> tuple[list[int], redis.RedisError | None]:
    """Enqueue these events, the debounced ones one by one on the scheduler, the others
    in one pipelined round trip. Returns the ids now held by Redis (enqueued now or
    before) and the first error Redis answered, if any."""
    handed: list[int] = []
    pipelined = []
    for event_id, event_type in events:
        if _debounce(event_type) is None:
            pipelined.append((event_id, event_type))
            continue
        try:
            enqueue_event(event_id, event_type)
        except DuplicateJobError:
            pass  # already on the queue: enqueued by another relay
        except redis.RedisError as exc:
            return handed, exc
        handed.append(event_id)
    if not pipelined:
        return handed, None
    early = early_jobs(pipelined)  # first: workers take `feeds` before the events' queues
    own = [event_jobs(event_id, event_type)[-1] for event_id, event_type in pipelined]
    try:
        answers = enqueue_unique_many([*early, *own])
    except redis.RedisError as exc:  # connection lost: none of them counts as sent
        return handed, exc
    error = next((a for a in answers if isinstance(a, redis.RedisError)), None)
    for (event_id, _), answer in zip(pipelined, answers[len(early) :], strict=True):
        if not isinstance(answer, redis.RedisError):  # the event's own job is what counts
            handed.append(event_id)
    return handed, error


def _state() -> dict:
    return current_app.extensions.setdefault("outbox_relay", {"redis_down_until": 0.0})


def publish(event_ids: list[int], *, force: bool = False) -> int:
    """Enqueue these events if still unsent; return how many were handed to Redis."""
    state = _state()
    if not event_ids or (not force and time.monotonic() < state["redis_down_until"]):
        return 0
    table = DomainEvent.__table__
    with db.engine.begin() as conn:
        unsent = conn.execute(
            sa.select(table.c.id, table.c.type)
            .where(table.c.id.in_(event_ids), table.c.enqueued_at.is_(None))
            .order_by(table.c.id)
        ).all()
    sent: list[int] = []
    failed: list[int] = []
    refused = False
    for start in range(0, len(unsent), RELAY_BATCH):
        handed, error = _hand_over(unsent[start : start + RELAY_BATCH])
        sent.extend(handed)
        if error is not None:
            refused = True
            state["redis_down_until"] = time.monotonic() + REDIS_BACKOFF_SECONDS
            marked = set(sent)
            failed = [row[0] for row in unsent if row[0] not in marked]
            log.warning("redis unavailable, %d events wait in the outbox: %s", len(failed), error)
            break
    with db.engine.begin() as conn:
        if sent:
            conn.execute(
                table.update()
                .where(table.c.id.in_(sent))
                .values(enqueued_at=utcnow(), enqueue_attempts=table.c.enqueue_attempts + 1)
            )
        if failed:
            conn.execute(
                table.update()
                .where(table.c.id.in_(failed))
                .values(enqueue_attempts=table.c.enqueue_attempts + 1)
            )
    if sent and not refused:  # Redis failing midway still backs off
        state["redis_down_until"] = 0.0
    return len(sent)


def sweep(limit: int = 500, min_age_seconds: int | None = None) -> int:
    """Relay events that were committed but never enqueued (Redis down, process died)."""
    if min_age_seconds is None:
        min_age_seconds = current_app.config["OUTBOX_SWEEP_MIN_AGE_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=min_age_seconds)
    table = DomainEvent.__table__
    total = 0
    while True:
        with db.engine.begin() as conn:
            ids = conn.scalars(
                sa.select(table.c.id)
                .where(table.c.enqueued_at.is_(None), table.c.occurred_at <= cutoff)
                .order_by(table.c.id)
                .limit(limit)
            ).all()
        if not ids:
            return total
        sent = publish(list(ids), force=True)
        total += sent
        if sent < len(ids):
            return total  # Redis refused; try again next sweep


def requeue_lost(limit: int = 500, min_age_seconds: int | None = None) -> int:
    """Enqueue again events that were handed to Redis but never processed: those whose
    job is gone (Redis lost its data: no persistence, a failover) and those whose job
    failed with its retries spent (the database was down longer than they lasted), each
    up to OUTBOX_MAX_ENQUEUES times, waiting longer after each failure, and those whose
    job RQ stranded (see `_stranded`). A job that is queued, scheduled or running is left
    to RQ; so is one another worker requeued."""
    config = current_app.config
    if min_age_seconds is None:
        min_age_seconds = config["OUTBOX_REQUEUE_AFTER_SECONDS"]
    lost_after = timedelta(seconds=min_age_seconds)
    failed_after = timedelta(seconds=config["OUTBOX_RETRY_FAILED_AFTER_SECONDS"])
    now = utcnow()
    table = DomainEvent.__table__
    with db.engine.begin() as conn:
        stale = conn.execute(
            sa.select(table.c.id, table.c.type, table.c.enqueued_at, table.c.enqueue_attempts)
            .where(
                table.c.processed_at.is_(None),
                table.c.enqueued_at.is_not(None),
                table.c.enqueued_at <= now - min(lost_after, failed_after),
                table.c.enqueue_attempts < config["OUTBOX_MAX_ENQUEUES"],
            )
            .order_by(table.c.id)
            .limit(limit)
        ).all()
    if not stale:
        return 0
    client = redis_connection.client
    lost, stranded, failed = [], [], []
    try:
        jobs = Job.fetch_many([DomainEvent.job_id_for(row.id) for row in stale], client)
        for row, job in zip(stale, jobs, strict=True):
            if job is None:
                if row.enqueued_at <= now - lost_after:
                    lost.append(row)
            elif job.get_status(refresh=False) in HELD and _stranded(job):
                # Failed now, so it is requeued below like any failed job: at most once.
                _fail_stranded(job)
                stranded.append(row)
                failed.append(row)
            elif job.get_status(refresh=False) in FAILED:
                # Twice as long after each failure: a long outage is not hammered.
                wait = failed_after * 2 ** max(row.enqueue_attempts - 1, 0)
                if job.ended_at is None or job.ended_at <= now - wait:
                    failed.append(row)
        requeued = [row.id for row in lost if _enqueue_again(row.id, row.type)]
        registry = {name: FailedJobRegistry(name, connection=client) for name in QUEUES}
        for row in failed:
            try:
                registry[queue_for_event(row.type)].requeue(DomainEvent.job_id_for(row.id))
            except InvalidJobOperation:
                continue  # another worker requeued it first
            requeued.append(row.id)
    except redis.RedisError as exc:  # Redis is down: the unsent sweep already said so
        log.debug("requeue skipped: %s", exc)
        return 0
    if lost:
        log.warning("re-enqueued %d events whose jobs Redis lost", len(lost))
    if stranded:
        log.warning("re-enqueued %d events whose jobs no queue or worker held", len(stranded))
    if failed:
        log.warning("re-enqueued %d events whose jobs failed", len(failed))
    if requeued:
        with db.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.id.in_(requeued))
                .values(enqueued_at=utcnow(), enqueue_attempts=table.c.enqueue_attempts + 1)
            )
    return len(requeued)


def _stranded(job: Job) -> bool:
    """Whether RQ will never run this job although its status says it will: no queue,
    registry or worker execution holds it. RQ takes a job off its queue before it records
    the execution, and marks it started only in the work-horse, so a worker that quits or
    dies in between (an error in its main loop, SIGKILL, its horse killed) leaves it
    queued or started with nothing to run it, and RQ's own cleanup skips it.

    Read in one transaction, so a job that a worker takes or finishes meanwhile is not
    mistaken; the instant between a worker's pop and its execution record is too short
    to matter, and an event run twice is processed once."""
    client = job.connection
    queue = Queue(job.origin, connection=client)
    with client.pipeline() as pipe:
        pipe.hget(job.key, "status")
        pipe.lpos(queue.key, job.id)
        pipe.lpos(queue.intermediate_queue_key, job.id)  # a one-queue worker's pop
        pipe.zrange(job.started_job_registry.key, 0, -1)
        pipe.zscore(ScheduledJobRegistry(job.origin, connection=client).key, job.id)
        pipe.zscore(job.failed_job_registry.key, job.id)
        status, position, popped, executions, scheduled_at, failed_at = pipe.execute()
    status = as_text(status) if status else None
    # Executions are `<job id>:<execution id>`; an expired one is still RQ's to retry.
    running = any(as_text(entry).startswith(f"{job.id}:") for entry in executions)
    if status == JobStatus.QUEUED:
        return position is None and popped is None and not running
    if status == JobStatus.STARTED:
        return not running
    if status == JobStatus.SCHEDULED:
        return scheduled_at is None
    if status in FAILED:
        return failed_at is None  # FailedJobRegistry.requeue would refuse it
    return False


def _fail_stranded(job: Job) -> None:
    """Record a stranded job as failed, where RQ's dashboards and the requeue find it."""
    with job.connection.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.failed_job_registry.add(
            job,
            ttl=FAILURE_TTL_SECONDS,
            exc_string="Stranded: no queue, registry or worker held the job.",
            pipeline=pipe,
        )
        pipe.execute()


def _enqueue_again(event_id: int, event_type: str) -> bool:
    try:
        enqueue_event(event_id, event_type)
    except DuplicateJobError:
        return False  # another worker got there first
    return True


def late_events(older_than: timedelta = LATE_AFTER) -> int:
    """Committed events still unprocessed this long after they happened (looked for in
    the last week, so the count stays cheap on a large table)."""
    now = utcnow()
    table = DomainEvent.__table__
    with db.engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(table)
                .where(
                    table.c.occurred_at >= now - timedelta(days=7),
                    table.c.occurred_at <= now - older_than,
                    table.c.processed_at.is_(None),
                )
            )
            or 0
        )
