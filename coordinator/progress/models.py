"""Learning outcomes and the movement's targets per ward and target group."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import UTCDateTime, utcnow
from coordinator.extensions import db


class Assessment(db.Model):
    """A participant's assessed level in one competence area, recorded by session staff."""

    __tablename__ = "assessments"
    __table_args__ = (
        sa.UniqueConstraint("participant_id", "session_id", "competence_code"),
        sa.CheckConstraint("level BETWEEN 1 AND 8", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="SET NULL"), index=True
    )
    competence_code: Mapped[str] = mapped_column(sa.ForeignKey("competences.code"))
    level: Mapped[int]
    reached_basic: Mapped[bool] = mapped_column(default=False)
    assessed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PopulationTarget(db.Model):
    """Baseline population and the share to reach, per unit (a ward or a province),
    group and plan year. No percent: the movement's default for the group applies."""

    __tablename__ = "population_targets"
    __table_args__ = (
        sa.UniqueConstraint("ward", "target_group", "year"),
        sa.UniqueConstraint("province_code", "target_group", "year"),
        sa.CheckConstraint("baseline >= 0", name="baseline_non_negative"),
        sa.CheckConstraint("target_percent BETWEEN 0 AND 100", name="target_percent"),
        sa.CheckConstraint("(ward IS NULL) <> (province_code IS NULL)", name="ward_or_province"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ward: Mapped[str | None] = mapped_column(sa.ForeignKey("wards.code"))
    province_code: Mapped[str | None] = mapped_column(sa.ForeignKey("provinces.code"))
    target_group: Mapped[str] = mapped_column(sa.String(32))
    year: Mapped[int]
    baseline: Mapped[int]
    target_percent: Mapped[float | None]
    # Reached before this service existed (counted by earlier campaigns).
    reached_before: Mapped[int] = mapped_column(default=0)


class ErasedParticipantCount(db.Model):
    """Anonymous counts kept when a participant asks for their data to be deleted."""

    __tablename__ = "erased_participant_counts"
    __table_args__ = (sa.UniqueConstraint("ward", "target_group"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ward: Mapped[str] = mapped_column(sa.ForeignKey("wards.code"))
    target_group: Mapped[str] = mapped_column(sa.String(32))
    enrolled: Mapped[int] = mapped_column(default=0)
    reached: Mapped[int] = mapped_column(default=0)
