"""Booking jobs: a proposal nobody answered expires at its deadline."""

from __future__ import annotations

from coordinator import clock
from coordinator.bookings import operations
from coordinator.extensions import db
from jobs.context import job_context


def expire_proposal(assignment_id: int) -> str:
    """Expire proposal `assignment_id` if it is still unanswered after its deadline (a
    second run, or a run after an answer, changes nothing)."""
    with job_context():
        outcome = operations.expire_if_due(assignment_id, clock.now())
        db.session.commit()
        return outcome


def expire_overdue_proposals() -> int:
    """Expire every proposal past its deadline whose job Redis lost (from the sweep)."""
    with job_context():
        expired = 0
        for assignment_id in operations.overdue_proposals(clock.now()):
            expired += operations.expire_if_due(assignment_id, clock.now()) == "expired"
            db.session.commit()
        return expired
