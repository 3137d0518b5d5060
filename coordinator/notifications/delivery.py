"""Sending one planned message once.

1. Under the row's lock: a row that is not `scheduled` is done (a duplicated or retried
   job stops here); a message no longer worth sending is dropped; otherwise the attempt
   is counted and the message built. Commit.
2. Hand the message to the first channel of the recipient's order that can take it
   (routing.chain: Zalo, SMS, email by default), outside any transaction. A channel that
   answers "not this address" (no Zalo account) is remembered and the next one is tried;
   a Zalo or SMS message in quiet hours is held (`held_until`, its own job) instead.
3. Mark the row sent, with its channel, the provider's id and the price. Commit.

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
from flask import current_app
from rq.exceptions import DuplicateJobError

from coordinator.background import (
    CHECK_ZALO_DELIVERY,
    DELIVER_NOTIFICATION,
    MAIL_RETRY,
    enqueue,
)
from coordinator.extensions import db
from coordinator.notifications import channels, content, routing
from coordinator.notifications.channels import (
    PERMANENT,
    PHONE_CHANNELS,
    RETRYABLE,
    ZALO,
    ChannelFailure,
)
from coordinator.notifications.models import Notification, delivery_job_id
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
    route = routing.chain(row, letter) if not isinstance(letter, str) else []
    if isinstance(letter, str) or not route:
        reason = letter if isinstance(letter, str) else "no_address"
        row.status, row.reason = "dropped", reason
        db.session.commit()
        log.info("notification %s (%s) dropped: %s", row.id, row.kind, reason)
        return f"dropped: {reason}"
    session_id, kind = row.session_id, row.kind
    row.attempts += 1
    db.session.commit()  # the attempt, and a proposal's answer token, exist before the send
    last_refusal = None
    for name, address in route:
        if name in PHONE_CHANNELS:
            if routing.over_budget(session_id, now):
                log.info("notification %s: budget reached, not by %s", notification_id, name)
                continue
            until = routing.hold_until(letter, now)
            if until is not None:
                return _hold(notification_id, until)
        try:
            sent = channels.get(name).send(letter, address)
        except ChannelFailure as failure:
            if failure.kind == RETRYABLE:
                log.warning("notification %s by %s: %s", notification_id, name, failure.code)
                raise
            # Not this channel (wrong address, or it refuses for good): the next one.
            _refused(notification_id, name)
            log.info("notification %s: not by %s (%s)", notification_id, name, failure.code)
            if failure.kind == PERMANENT:
                last_refusal = failure.code
            continue
        # Recorded even if the row was dropped meanwhile: the message did go out.
        _finish(
            notification_id,
            status="sent",
            sent_at=clock(),  # the clock the month of the budget is read by
            reason=None,
            channel=name,
            provider_message_id=sent.provider_message_id,
            price_vnd=Notification.price_vnd + sent.price_vnd,  # a fallback adds up
            delivery_status="accepted",
        )
        log.info("notification %s (%s) sent by %s", notification_id, kind, name)
        if name == ZALO:
            _check_zalo_later(notification_id, now)
        return "sent"
    reason = (last_refusal or "no_channel")[:40]
    _finish(notification_id, status="failed", reason=reason)
    log.warning("notification %s (%s) not sent: %s", notification_id, kind, reason)
    return "failed"


def _check_zalo_later(notification_id: int, now: datetime) -> None:
    """Look again when ZALO_DELIVERY_MINUTES have passed: not delivered, next channel."""
    minutes = current_app.config["ZALO_DELIVERY_MINUTES"]
    if not minutes:
        return
    try:
        enqueue(
            CHECK_ZALO_DELIVERY,
            notification_id,
            queue="notifications",
            job_id=f"ntf-{notification_id}-zalo-check",
            unique=True,
            retry=MAIL_RETRY,
            at=now + timedelta(minutes=minutes),
        )
    except DuplicateJobError:
        pass


def fall_back_from_zalo(notification_id: int, now: datetime | None = None) -> str:
    """A message Zalo accepted but never reported delivered goes by the next channel of
    the person's order, once: Zalo joins the refused channels and the row is delivered
    again (a retry of this job finds it scheduled and delivers it)."""
    row = db.session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        db.session.rollback()
        return "missing"
    refused = [c for c in row.refused_channels.split(",") if c]
    if (
        row.status == "sent"
        and row.channel == ZALO
        and row.delivery_status != "delivered"
        and ZALO not in refused
    ):
        row.status, row.reason = "scheduled", "zalo_undelivered"
        row.refused_channels = ",".join([*refused, ZALO])
        db.session.commit()
        log.info("notification %s: no Zalo delivery report, next channel", notification_id)
        return deliver(notification_id, now)
    if row.status == "scheduled" and row.reason == "zalo_undelivered":
        db.session.rollback()
        return deliver(notification_id, now)  # a retry of an interrupted fallback
    db.session.rollback()
    return "delivered" if row.delivery_status == "delivered" else f"nothing to do ({row.status})"


def _refused(notification_id: int, channel: str) -> None:
    """Remember that a channel said "not this address", so a retry skips it."""
    row = db.session.get(Notification, notification_id, with_for_update=True)
    refused = [c for c in row.refused_channels.split(",") if c]
    row.refused_channels = ",".join([*refused, channel])
    db.session.commit()


def _hold(notification_id: int, until: datetime) -> str:
    """Quiet hours: the message waits for their end, with a job of its own at that time."""
    _finish(notification_id, held_until=until)
    try:
        enqueue(
            DELIVER_NOTIFICATION,
            notification_id,
            queue="notifications",
            job_id=delivery_job_id(notification_id, until),
            unique=True,
            retry=MAIL_RETRY,
            at=until,
        )
    except DuplicateJobError:
        pass
    log.info("notification %s held for quiet hours until %s", notification_id, until.isoformat())
    return "held"


def overdue(now: datetime, limit: int = 500) -> list[int]:
    """Scheduled rows past their time plus a grace period: their job may have been lost."""
    return list(
        db.session.scalars(
            sa.select(Notification.id)
            .where(
                Notification.status == "scheduled",
                sa.func.coalesce(Notification.held_until, Notification.scheduled_for)
                <= now - SWEEP_GRACE,
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
