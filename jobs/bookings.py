"""Booking jobs: a proposal nobody answered expires at its deadline; a cover request
nobody took lapses at its deadline (the organizer is alerted); after a session its
volunteers are asked whether they came."""

from __future__ import annotations

from coordinator import clock
from coordinator.bookings import cover, operations
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.notifications import after_session
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


def lapse_cover_request(request_id: int) -> str:
    """Lapse cover request `request_id` if nobody took the seat by its deadline: its
    event alerts the organizer. A second run, or a run after an accept, changes nothing."""
    with job_context():
        outcome = cover.lapse_if_due(request_id, clock.now())
        db.session.commit()
        return outcome


def lapse_overdue_cover_requests() -> int:
    """Lapse every open cover request past its deadline whose job Redis lost (sweep)."""
    with job_context():
        lapsed = 0
        for request_id in cover.overdue_requests(clock.now()):
            lapsed += cover.lapse_if_due(request_id, clock.now()) == "lapsed"
            db.session.commit()
        return lapsed


def ask_attendance(session_id: int) -> str:
    """After session `session_id`: ask each confirmed volunteer whether they came (one
    message per booking, ever: a second run plans nothing)."""
    with job_context():
        planned = after_session.ask_if_due(session_id, clock.now())
        if planned:  # their delivery jobs follow the commit, as for every message
            outbox.record(
                "notification.planned",
                "notification",
                min(planned.scheduled),
                {"scheduled": planned.scheduled, "dropped": []},
            )
        db.session.commit()
        return f"asked {len(planned.scheduled)}"


def ask_attendance_never_asked() -> int:
    """Ask the sessions whose ask job Redis lost (from the sweep)."""
    with job_context():
        sessions = after_session.sessions_never_asked(clock.now())
        db.session.rollback()
    return sum(ask_attendance(session_id) != "asked 0" for session_id in sessions)
