"""Domain events that set the matcher to work."""

from __future__ import annotations

from datetime import timedelta

from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.matching import operations, progress
from coordinator.sessions.models import TrainingSession


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


@handles("matching.repair_requested")
def repair_seat(event: DomainEvent) -> None:
    assignment = db.session.get(Assignment, event.payload["assignment_id"])
    if assignment is not None:
        operations.repair_after_leaving(
            assignment.session_id, assignment.role_id, assignment.volunteer_id
        )


@handles("matching.run_requested", "matching.run_scheduled")
def run_matching(event: DomainEvent) -> None:
    operations.execute(event.payload["run_id"], progress=progress.report)
