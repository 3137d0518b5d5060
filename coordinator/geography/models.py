"""Wards of a district and which wards border each other."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.extensions import db

ward_neighbors = sa.Table(
    "ward_neighbors",
    db.metadata,
    sa.Column("ward_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("neighbor_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True),
    sa.CheckConstraint("ward_code <> neighbor_code", name="not_self"),
)


class Ward(db.Model):
    __tablename__ = "wards"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    district: Mapped[str | None] = mapped_column(sa.String(64), index=True)

    neighbors: Mapped[list[Ward]] = relationship(
        secondary=ward_neighbors,
        primaryjoin=code == ward_neighbors.c.ward_code,
        secondaryjoin=code == ward_neighbors.c.neighbor_code,
        order_by="Ward.code",
    )

    def __repr__(self) -> str:
        return f"<Ward {self.code}>"
