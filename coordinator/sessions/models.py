"""Training sessions, their staffing roles and weekly series."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.states import status_in, values


class SessionStatus(StrEnum):
    """A training session: published until it is cancelled (for good) or has happened."""

    PUBLISHED = "published"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


SESSION_STATUSES = values(SessionStatus)
MAX_DURATION = timedelta(hours=12)


class SessionSeries(db.Model):
    """Sessions created together by a weekly repeat."""

    __tablename__ = "session_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekly_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingSession(db.Model):
    __tablename__ = "training_sessions"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        sa.CheckConstraint(
            "registered_count >= 0 AND registered_count <= capacity", name="registered_within"
        ),
        sa.CheckConstraint(status_in(SessionStatus), name="status"),
        sa.CheckConstraint(
            "target_group IN ('civil_servants','students','workers','residents',"
            "'youth_disabilities')",
            name="target_group",
        ),
        sa.Index("ix_training_sessions_ward_starts_at", "ward", "starts_at"),
        sa.Index("ix_training_sessions_ends_at", "ends_at"),  # hours: sessions ended since
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    competence_area: Mapped[str] = mapped_column(sa.ForeignKey("competences.code"), index=True)
    target_group: Mapped[str] = mapped_column(sa.String(32), index=True)
    ward: Mapped[str] = mapped_column(sa.ForeignKey("wards.code"))
    venue: Mapped[str] = mapped_column(sa.String(300))
    venue_accessibility: Mapped[list[str]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int]
    # Confirmed participant registrations, moved by conditional UPDATEs only.
    registered_count: Mapped[int] = mapped_column(default=0)
    participant_needs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["vi"])
    status: Mapped[str] = mapped_column(
        sa.String(20), default=SessionStatus.PUBLISHED.value, index=True
    )
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    series_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("session_series.id", ondelete="SET NULL"), index=True
    )
    organizer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # version: rises on every change; sequence: on changes a calendar must show (RFC 5545).
    version: Mapped[int] = mapped_column(default=1)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[SessionRole]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="SessionRole.id"
    )


class SessionRole(db.Model):
    """A staffing need of a session: `count` people in `role`, `taken` of them confirmed."""

    __tablename__ = "session_roles"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "role"),
        sa.CheckConstraint("count >= 0", name="count_non_negative"),
        sa.CheckConstraint("taken >= 0 AND taken <= count", name="taken_within_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(64))
    count: Mapped[int]
    taken: Mapped[int] = mapped_column(default=0)
    required_skills: Mapped[list[str]] = mapped_column(JSONType, default=list)

    session: Mapped[TrainingSession] = relationship(back_populates="roles")
