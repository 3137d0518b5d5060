"""Domain events that set the matcher to work."""

from __future__ import annotations

from datetime import timedelta

from rq.exceptions import DuplicateJobError

from coordinator.background import REPAIR_SEAT, RUN_MATCHING, enqueue
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.matching import operations
from coordinator.matching.models import MatchingRun
from coordinator.sessions.models import TrainingSession

QUEUE = "matching"


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


@handles("assignment.declined", "signup.withdrawn")
def ask_for_repair(event: DomainEvent) -> None:
    """A freed seat is repaired by its own small job on the matching queue."""
    payload = event.payload
    if payload.get("previous_status") == "waitlisted" or "assignment_id" not in payload:
        return
    outbox.record(
        "matching.repair_requested",
        "session",
        payload["session_id"],
        {"session_id": payload["session_id"], "assignment_id": payload["assignment_id"]},
    )


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
