"""Domain events that set the matcher to work, and the sweep that restarts runs whose
job an outage took away."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from rq.exceptions import DuplicateJobError, InvalidJobOperation
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from coordinator.background import REPAIR_SEAT, RUN_MATCHING, enqueue
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db, redis_connection
from coordinator.matching import operations
from coordinator.matching.models import MatchingRun, RunStatus
from coordinator.sessions.models import TrainingSession

log = logging.getLogger(__name__)
QUEUE = "matching"
# A run whose job failed for want of the database or Redis is started again this many
# times, after this long (twice as long each time); then it is marked failed.
RUN_RESTARTS = 5
RUN_RESTART_AFTER = timedelta(seconds=30)
# A job abandoned by a lost worker was found only after its heartbeat lapsed, already a
# wait, and nothing says the outage is still on: its first restart is immediate.
ABANDONED = "AbandonedJobError"


@handles("session.published", "session.changed")
def plan_changed_session(event: DomainEvent) -> None:
    """New or changed sessions join the (single) queued run of their month."""
    session = db.session.get(TrainingSession, event.payload.get("session_id", event.aggregate_id))
    if session is not None and session.status == "published" and session.starts_at > utcnow():
        operations.schedule_auto_run(session.starts_at)


@handles("volunteer.availability_changed")
def replan_after_availability(event: DomainEvent) -> None:
    """New free time may fill what was empty: this month and the next are planned again."""
    now = utcnow()
    operations.schedule_auto_run(now)
    operations.schedule_auto_run(now + timedelta(days=31))


@handles("assignment.declined", "signup.withdrawn", "assignment.expired")
def ask_for_repair(event: DomainEvent) -> None:
    """A freed seat is repaired at once by its own small job on the matching queue; the
    month is then planned again by the debounced run (as after publishes), which keeps
    confirmed bookings and moves proposals only for a better plan, so that local repairs
    do not drift from what a full solve would give."""
    payload = event.payload
    if payload.get("previous_status") == "waitlisted" or "assignment_id" not in payload:
        return
    outbox.record(
        "matching.repair_requested",
        "session",
        payload["session_id"],
        {"session_id": payload["session_id"], "assignment_id": payload["assignment_id"]},
    )
    session = db.session.get(TrainingSession, payload["session_id"])
    if session is not None and session.status == "published" and session.starts_at > utcnow():
        operations.schedule_auto_run(session.starts_at)


# The jobs below re-read committed rows only (the run, the booking), so they may be
# enqueued before this event's own transaction commits; unique ids make a second
# processing of the event a no-op.


@handles("matching.repair_requested")
def start_repair(event: DomainEvent) -> None:
    """The seat is repaired by its own job, so a slow repair holds no event."""
    _enqueue_once(REPAIR_SEAT, event.payload["assignment_id"], job_id=f"repair-{event.id}")


@handles("matching.run_requested", "matching.run_scheduled")
def start_run(event: DomainEvent) -> None:
    """The run is solved by its own job (its progress is that job's meta)."""
    start_run_job(event.payload["run_id"])


def start_run_job(run_id: int) -> None:
    """Enqueue matching run `run_id` unless its job already exists."""
    _enqueue_once(RUN_MATCHING, run_id, job_id=MatchingRun.job_id_for(run_id))


def _enqueue_once(job: str, entity_id: int, *, job_id: str) -> None:
    try:
        enqueue(job, entity_id, queue=QUEUE, job_id=job_id, unique=True)
    except DuplicateJobError:
        pass


def _restart_wait(job: Job, restarts: int) -> timedelta:
    result = job.latest_result()
    abandoned = result is not None and ABANDONED in (result.exc_string or "")
    return RUN_RESTART_AFTER * (2**restarts - (1 if abandoned else 0))


def restart_interrupted_runs() -> int:
    """Start again runs left queued or running whose job is gone (Redis lost it) or
    failed with its retries spent (an outage outlasted them). A run that failed on its
    own input is already `failed` (operations.execute) and is not touched; one
    interrupted more than RUN_RESTARTS times is marked failed. Commits its marks."""
    now = utcnow()
    runs = (
        db.session.execute(
            sa.select(MatchingRun.id)
            .join(DomainEvent, DomainEvent.id == MatchingRun.event_id)
            .where(
                MatchingRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
                DomainEvent.processed_at.is_not(None),  # its handler enqueued the job
                DomainEvent.processed_at <= now - RUN_RESTART_AFTER,
            )
            .order_by(MatchingRun.id)
            .limit(100)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    if not runs:
        return 0
    client = redis_connection.client
    restarted = 0
    given_up = []
    registry = FailedJobRegistry(QUEUE, connection=client)
    jobs = Job.fetch_many([MatchingRun.job_id_for(r) for r in runs], client)
    for run_id, job in zip(runs, jobs, strict=True):
        if job is None:
            start_run_job(run_id)
            restarted += 1
            continue
        if job.get_status(refresh=False) != JobStatus.FAILED:
            continue
        restarts = int(job.meta.get("restarts", 0))
        if restarts >= RUN_RESTARTS:
            given_up.append(run_id)
            continue
        if job.ended_at is not None and job.ended_at > now - _restart_wait(job, restarts):
            continue
        job.meta["restarts"] = restarts + 1
        job.save_meta()
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            continue  # another worker restarted it
        restarted += 1
    if given_up:
        db.session.execute(
            sa.update(MatchingRun)
            .where(
                MatchingRun.id.in_(given_up),
                MatchingRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
            )
            .values(
                status=RunStatus.FAILED,
                finished_at=utcnow(),
                error=f"interrupted {RUN_RESTARTS + 1} times by outages",
            )
        )
        db.session.commit()
    if restarted:
        log.warning("restarted %d matching runs whose job an outage interrupted", restarted)
    return restarted
