"""What bookings do when events arrive: a proposal gets the job that expires it at its
answer deadline (job id `expire-<assignment id>`, unique, so a repeated event adds
nothing; the job re-reads the booking, so running it twice expires it once)."""

from __future__ import annotations

from rq.exceptions import DuplicateJobError

from coordinator import clock
from coordinator.background import EXPIRE_PROPOSAL, enqueue
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db

QUEUE = "default"


def expiry_job_id(assignment_id: int) -> str:
    return f"expire-{assignment_id}"


@handles("assignment.proposed", "assignment.matched")
def schedule_expiry(event: DomainEvent) -> None:
    """Enqueue the proposal's expiry at its answer deadline on RQ's scheduler (each of a
    matching run's proposals in the session, for `assignment.matched`)."""
    if event.type == "assignment.matched":
        ids = [item["assignment_id"] for item in event.payload.get("proposed", [])]
    else:
        ids = [event.payload["assignment_id"]]
    for assignment_id in ids:
        _schedule_expiry(assignment_id)


def _schedule_expiry(assignment_id: int) -> None:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.status != AssignmentStatus.PROPOSED:
        return
    if assignment.answer_by is None:
        return
    due = assignment.answer_by <= clock.now()
    try:
        enqueue(
            EXPIRE_PROPOSAL,
            assignment.id,
            queue=QUEUE,
            job_id=expiry_job_id(assignment.id),
            unique=True,
            at=None if due else assignment.answer_by,
        )
    except DuplicateJobError:
        pass  # its job exists already
