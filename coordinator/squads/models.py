"""Squads: a leader and members who go out together."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer


class Squad(db.Model):
    __tablename__ = "squads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    leader_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    home_ward: Mapped[str] = mapped_column(sa.ForeignKey("wards.code"), index=True)
    focus_groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    leader: Mapped[Volunteer] = relationship()
    memberships: Mapped[list[SquadMember]] = relationship(
        back_populates="squad", cascade="all, delete-orphan", order_by="SquadMember.joined_at"
    )

    @property
    def member_ids(self) -> list[int]:
        return [m.volunteer_id for m in self.memberships]


class SquadMember(db.Model):
    __tablename__ = "squad_members"

    squad_id: Mapped[int] = mapped_column(
        sa.ForeignKey("squads.id", ondelete="CASCADE"), primary_key=True
    )
    volunteer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    squad: Mapped[Squad] = relationship(back_populates="memberships")
    volunteer: Mapped[Volunteer] = relationship()
