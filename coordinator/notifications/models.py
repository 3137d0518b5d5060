"""Outgoing messages, who turned which kind off, and the one-time links in proposals."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import UTCDateTime, utcnow
from coordinator.extensions import db

NOTIFICATION_STATUSES = ("scheduled", "sent", "dropped", "failed")
RECIPIENT_KINDS = ("volunteer", "participant", "user")
LIVE_NOTIFICATION = "status <> 'dropped'"


def delivery_job_id(notification_id: int) -> str:
    """The RQ job id of a row's delivery: one job per row, so Redis refuses a second."""
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
        sa.CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="status"),
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
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def job_id(self) -> str:
        return delivery_job_id(self.id)


class NotificationOptOut(db.Model):
    """A recipient turned one kind of message off (preferences page or one-click link)."""

    __tablename__ = "notification_opt_outs"
    __table_args__ = (sa.CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="kind"),)

    recipient_kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnswerToken(db.Model):
    """The credential in a proposal's accept/decline links: only its SHA-256 is stored;
    it works once and not after `expires_at`."""

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
