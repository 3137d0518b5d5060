"""What bookings do when events arrive: a proposal gets the job that expires it at its
answer deadline (job id `expire-<assignment id>`, unique, so a repeated event adds
nothing; the job re-reads the booking, so running it twice expires it once); a cover
request gets the job that lapses it at its deadline (`cover-lapse-<id>`); a session
gets the job that asks its volunteers whether they came, after its end (one per end
time: `ask-attendance-<session id>-<end>`, so a moved session gets a new one and the
old one finds nothing due)."""

from __future__ import annotations

from datetime import datetime

from rq.exceptions import DuplicateJobError

from coordinator import clock
from coordinator.background import ASK_ATTENDANCE, EXPIRE_PROPOSAL, LAPSE_COVER_REQUEST, enqueue
from coordinator.bookings.checkin import ask_time
from coordinator.bookings.models import Assignment, AssignmentStatus, CoverRequest, CoverStatus
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.sessions.models import SessionStatus, TrainingSession

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


def _enqueue_once(job: str, target_id: int, job_id: str, at: datetime) -> None:
    due = at <= clock.now()
    try:
        enqueue(job, target_id, queue=QUEUE, job_id=job_id, unique=True, at=None if due else at)
    except DuplicateJobError:
        pass  # its job exists already


@handles("cover.requested")
def schedule_cover_lapse(event: DomainEvent) -> None:
    """Enqueue the request's lapse at its deadline (the job does nothing if it was taken)."""
    request = db.session.get(CoverRequest, event.payload["cover_request_id"])
    if request is None or request.status != CoverStatus.OPEN:
        return
    _enqueue_once(LAPSE_COVER_REQUEST, request.id, f"cover-lapse-{request.id}", request.deadline)


@handles("session.published", "session.changed")
def schedule_attendance_ask(event: DomainEvent) -> None:
    """Enqueue the post-session ask at ATTENDANCE_ASK_HOURS after the session's end."""
    session = db.session.get(TrainingSession, event.payload.get("session_id", event.aggregate_id))
    if session is None or session.status != SessionStatus.PUBLISHED:
        return
    at = ask_time(session)
    job_id = f"ask-attendance-{session.id}-{int(session.ends_at.timestamp())}"
    _enqueue_once(ASK_ATTENDANCE, session.id, job_id, at)
