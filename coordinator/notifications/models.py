"""Outgoing messages: one row per (recipient, kind, session, version) makes sends idempotent."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import UTCDateTime, utcnow
from coordinator.extensions import db

NOTIFICATION_STATUSES = ("scheduled", "sent", "dropped", "failed")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint(
            "recipient_kind", "recipient_id", "kind", "session_id", "session_version"
        ),
        sa.CheckConstraint("recipient_kind IN ('volunteer', 'participant', 'user')", name="kind"),
        sa.CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(sa.String(20))
    recipient_id: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(40))
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    # 0 for messages not tied to a session version (digests).
    session_version: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(20), default="scheduled")
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
