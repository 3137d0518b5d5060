"""Sending one planned message once.

1. Under the row's lock: a row that is not `scheduled` is done (a duplicated or retried
   job stops here); a message no longer worth sending is dropped; otherwise the attempt
   is counted and the message built. Commit.
2. Hand the message to the mail server, outside any transaction.
3. Mark the row sent. Commit.

A job that dies before the server accepted the message leaves the row `scheduled`, and
its retry sends it. The one window left is between the server's acceptance and step 3's
commit (milliseconds): dying there sends the message again on retry, with the same
Message-ID and the same content (links included), which many mail systems show as one.

So `deliver` commits, unlike other operations: a message handed to a server cannot be
rolled back, and its row must say so whatever the job does next.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.notifications import compose, content, mailer
from coordinator.notifications.models import Notification
from coordinator.notifications.planning import clock

log = logging.getLogger(__name__)
# Rows this late are looked at by the sweep: the normal path had its chance.
SWEEP_GRACE = timedelta(minutes=5)


def _finish(notification_id: int, **values) -> None:
    db.session.execute(
        sa.update(Notification).where(Notification.id == notification_id).values(**values)
    )
    db.session.commit()


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """Send one planned message if it is still due and unsent; returns what happened."""
    now = now or clock()
    row = db.session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        db.session.rollback()
        return "missing"
    if row.status != "scheduled":
        db.session.rollback()
        return f"already {row.status}"
    letter = content.prepare(row, now)
    if isinstance(letter, str):
        row.status, row.reason = "dropped", letter
        db.session.commit()
        log.info("notification %s (%s) dropped: %s", row.id, row.kind, letter)
        return f"dropped: {letter}"
    message = compose.build(letter)
    row.attempts += 1
    db.session.commit()  # the attempt, and a proposal's answer token, exist before the send
    try:
        mailer.send(message, row.job_id)
    except mailer.PermanentFailure as failure:
        _finish(row.id, status="failed", reason=f"smtp_{failure.code}")
        log.warning("notification %s (%s) refused: %s", row.id, row.kind, failure)
        return "failed"
    # Recorded even if the row was dropped meanwhile: the message did go out.
    _finish(row.id, status="sent", sent_at=utcnow(), reason=None)
    log.info("notification %s (%s) sent", row.id, row.kind)
    return "sent"


def overdue(now: datetime, limit: int = 500) -> list[int]:
    """Scheduled rows past their time plus a grace period: their job may have been lost."""
    return list(
        db.session.scalars(
            sa.select(Notification.id)
            .where(
                Notification.status == "scheduled",
                Notification.scheduled_for <= now - SWEEP_GRACE,
            )
            .order_by(Notification.scheduled_for, Notification.id)
            .limit(limit)
        )
    )


def give_up(notification_ids: list[int]) -> None:
    """Mark rows whose delivery job exhausted its retries (flushes)."""
    if not notification_ids:
        return
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(notification_ids), Notification.status == "scheduled")
        .values(status="failed", reason="retries_exhausted")
    )
