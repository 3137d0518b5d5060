"""Giving planned messages their delivery jobs, taking dropped ones' away, and the
periodic sweep of messages whose job Redis lost.

Every delivery job has the id `ntf-<notification id>` and is enqueued with unique=True,
so one row never has two jobs alive at once; the job re-reads its row, so running it
again after it sent is a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from coordinator.background import DELIVER_NOTIFICATION, MAIL_RETRY, SWEEP_NOTIFICATIONS, enqueue
from coordinator.extensions import db, redis_connection
from coordinator.notifications import delivery
from coordinator.notifications.models import Notification, delivery_job_id
from coordinator.notifications.planning import clock

QUEUE = "notifications"
SWEEP_JOB_PREFIX = "notifications-sweep-"


def sweep() -> int:
    """Re-enqueue overdue messages whose job is gone, mark those whose retries ran out,
    and schedule the next sweep. Returns how many were enqueued again (flushes)."""
    ids = delivery.overdue(clock())
    held = dict(
        db.session.execute(
            sa.select(Notification.id, Notification.held_until).where(Notification.id.in_(ids))
        ).all()
    )
    db.session.rollback()  # end the read before writing (SQLite: one writer)
    status = {i: _job_status(delivery_job_id(i, held.get(i))) for i in ids}
    delivery.give_up([i for i in ids if status[i] == JobStatus.FAILED])
    resent = schedule_deliveries([i for i in ids if status[i] is None])
    ensure_sweep()
    return resent


def _job_status(job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=redis_connection.client).get_status()
    except NoSuchJobError:
        return None


def schedule_deliveries(notification_ids: list[int]) -> int:
    """Enqueue the delivery of these rows at their time (now when due); a row that
    already has its job keeps it. Returns how many jobs were created."""
    if not notification_ids:
        return 0
    rows = db.session.execute(
        sa.select(Notification.id, Notification.scheduled_for, Notification.held_until).where(
            Notification.id.in_(notification_ids), Notification.status == "scheduled"
        )
    ).all()
    now, created = clock(), 0
    for notification_id, planned_for, held_until in rows:
        scheduled_for = held_until or planned_for
        due = scheduled_for is None or scheduled_for <= now
        try:
            enqueue(
                DELIVER_NOTIFICATION,
                notification_id,
                queue=QUEUE,
                job_id=delivery_job_id(notification_id, held_until),
                unique=True,
                retry=MAIL_RETRY,
                at=None if due else scheduled_for,
            )
            created += 1
        except DuplicateJobError:
            pass  # its job exists: scheduled, queued, retrying or done
    return created


def cancel_deliveries(notification_ids: list[int]) -> None:
    """Take dropped rows' jobs off the scheduler (a job that already started re-reads
    its row and stops)."""
    connection = redis_connection.client
    for notification_id in notification_ids:
        try:
            job = Job.fetch(delivery_job_id(notification_id), connection=connection)
        except NoSuchJobError:
            continue
        if job.get_status() in (JobStatus.SCHEDULED, JobStatus.QUEUED):
            job.delete()


def ensure_sweep() -> None:
    """The next sweep is scheduled (one job per time slot, so asking twice is free)."""
    interval = timedelta(minutes=current_app.config["NOTIFICATION_SWEEP_MINUTES"])
    slot = int(clock().timestamp() // interval.total_seconds()) + 1
    at = datetime.fromtimestamp(slot * interval.total_seconds(), tz=UTC)
    try:
        enqueue(
            SWEEP_NOTIFICATIONS, queue=QUEUE, job_id=f"{SWEEP_JOB_PREFIX}{slot}", unique=True, at=at
        )
    except DuplicateJobError:
        pass
