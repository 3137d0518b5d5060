"""Notification jobs: deliver one message; sweep up messages whose job Redis lost."""

from __future__ import annotations

from coordinator.extensions import db
from coordinator.notifications import delivery, scheduling
from jobs.bookings import (
    ask_attendance_never_asked,
    expire_overdue_proposals,
    lapse_overdue_cover_requests,
)
from jobs.context import job_context


def deliver_notification(notification_id: int) -> str:
    """Send notification `notification_id` if it is still due and unsent (the delivery
    commits before and after the send itself)."""
    with job_context():
        return delivery.deliver(notification_id)


def check_zalo_delivery(notification_id: int) -> str:
    """Zalo did not report this message delivered in time: send it by the next channel,
    once (the delivery commits)."""
    with job_context():
        return delivery.fall_back_from_zalo(notification_id)


def sweep_notifications() -> int:
    """Re-enqueue overdue messages whose job is gone and schedule the next sweep."""
    with job_context():
        resent = scheduling.sweep()
        db.session.commit()
    expire_overdue_proposals()  # proposals whose expiry job Redis lost
    lapse_overdue_cover_requests()  # cover requests likewise
    ask_attendance_never_asked()  # and sessions' post-session asks
    return resent
