"""Outgoing messages, who turned which kind off, and the one-time links in proposals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.states import status_in, values


class NotificationStatus(StrEnum):
    """One message: scheduled -> sent | dropped (with a reason) | failed."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"


NOTIFICATION_STATUSES = values(NotificationStatus)
RECIPIENT_KINDS = ("volunteer", "participant", "user")
LIVE_NOTIFICATION = "status <> 'dropped'"


CHANNELS = ("zalo", "sms", "email")
DELIVERY_STATUSES = ("accepted", "delivered", "undelivered")


def delivery_job_id(notification_id: int, held_until: datetime | None = None) -> str:
    """The RQ job id of a row's delivery: one job per row, so Redis refuses a second. A
    message held for quiet hours gets one more job, for the hold's end."""
    if held_until is not None:
        return f"ntf-{notification_id}-held-{int(held_until.timestamp())}"
    return f"ntf-{notification_id}"


class Notification(db.Model):
    """One message to one recipient. `dedup_key` (see planning.dedup_key) names what the
    message is about: (recipient, kind, session, session version) for reminders and
    session notices, the booking for booking notices, the day for digests. Only one live
    (not dropped) row per key can exist, so a repeated event plans nothing new, and a
    delivery job re-reads its row, so a repeated job sends nothing new."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="kind"),
        sa.CheckConstraint(status_in(NotificationStatus), name="status"),
        sa.Index(
            "uq_notifications_live_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=sa.text(LIVE_NOTIFICATION),
            postgresql_where=sa.text(LIVE_NOTIFICATION),
        ),
        sa.Index("ix_notifications_status_scheduled_for", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(sa.String(20))
    recipient_id: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(40))
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    # The session's version when the message was planned; 0 for digests.
    session_version: Mapped[int] = mapped_column(default=0)
    # The booking a proposal, assignment or promotion notice is about.
    assignment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="CASCADE")
    )
    dedup_key: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="scheduled")
    reason: Mapped[str | None] = mapped_column(sa.String(40))  # why dropped or failed
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Indexed: the monthly budget is read before every Zalo or SMS send, costs per month.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How it went out (see notifications/channels.py): the channel, the provider's id for
    # the message (ZNS msg_id, eSMS SMSID, our Message-ID for mail), its estimated price
    # in VND, and what the provider's delivery callback said.
    channel: Mapped[str | None] = mapped_column(sa.String(10))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    price_vnd: Mapped[int] = mapped_column(default=0)
    delivery_status: Mapped[str | None] = mapped_column(sa.String(20))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Channels that answered "not this address" (no Zalo account...), comma-separated:
    # a retry goes straight to the next one.
    refused_channels: Mapped[str] = mapped_column(sa.String(40), default="")
    # Held for quiet hours until then (its own job, `delivery_job_id(id, held_until)`).
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def job_id(self) -> str:
        return delivery_job_id(self.id, self.held_until)


class ChannelChoice(db.Model):
    """The channels one recipient wants for one kind of message, in order (absent row:
    the default, Zalo then SMS then email)."""

    __tablename__ = "notification_channel_choices"
    __table_args__ = (sa.CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="kind"),)

    recipient_kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    channels: Mapped[str] = mapped_column(sa.String(40))  # "zalo,sms,email"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ZaloToken(db.Model):
    """The Zalo Official Account's OAuth tokens (one row). Zalo rotates the refresh token
    on every refresh (the old one stops working), so it lives in the database, not in
    configuration or Redis: ZALO_REFRESH_TOKEN only seeds the first row."""

    __tablename__ = "zalo_oa_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    access_token: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationOptOut(db.Model):
    """A recipient turned one kind of message off (preferences page or one-click link)."""

    __tablename__ = "notification_opt_outs"
    __table_args__ = (sa.CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="kind"),)

    recipient_kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnswerToken(db.Model):
    """The credential in a message's one-tap links (a proposal's accept/decline, the
    day-before reminder's confirm/cancel): only its SHA-256 is stored; it works once and
    not after `expires_at`, and remembers the answer given (`action`) to show it again."""

    __tablename__ = "notification_answer_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), unique=True
    )
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    action: Mapped[str | None] = mapped_column(sa.String(20))  # "accept" or "decline"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
