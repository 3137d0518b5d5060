"""The transactional outbox: domain events written with the change they describe."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db


class DomainEvent(db.Model):
    """Something that happened. `payload` holds ids and codes only, never personal data;
    it doubles as the audit trail (actor, reason, time)."""

    __tablename__ = "domain_events"
    __table_args__ = (
        sa.Index("ix_domain_events_aggregate", "aggregate_type", "aggregate_id"),
        sa.Index(
            "ix_domain_events_unsent",
            "id",
            sqlite_where=sa.text("enqueued_at IS NULL"),
            postgresql_where=sa.text("enqueued_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    type: Mapped[str] = mapped_column(sa.String(64), index=True)
    aggregate_type: Mapped[str] = mapped_column(sa.String(32))
    aggregate_id: Mapped[int]
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueue_attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def job_id(self) -> str:
        """The RQ job id; deterministic so a second enqueue is refused by Redis."""
        return self.job_id_for(self.id)

    @staticmethod
    def job_id_for(event_id: int) -> str:
        """The RQ job id of event `event_id`."""
        return f"evt-{event_id}"
