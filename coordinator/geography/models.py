"""The administrative map: provinces, the communes, wards and special zones below them
(here all called wards, as the API always has), which wards border each other, and which
units replaced which when units merged or split."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.extensions import db


class ProvinceType(StrEnum):
    PROVINCE = "tinh"
    CITY = "thanh_pho"  # a centrally-run city (thành phố trực thuộc trung ương)


class UnitType(StrEnum):
    COMMUNE = "xa"
    WARD = "phuong"
    SPECIAL_ZONE = "dac_khu"


PROVINCE_TYPES = tuple(t.value for t in ProvinceType)
UNIT_TYPES = tuple(t.value for t in UnitType)

ward_neighbors = sa.Table(
    "ward_neighbors",
    db.metadata,
    sa.Column("ward_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("neighbor_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True),
    sa.CheckConstraint("ward_code <> neighbor_code", name="not_self"),
)

# Which units took over a unit that ended. A split unit has several successors; `main`
# marks the one that took most of it: its past figures roll up there, and only there.
ward_successors = sa.Table(
    "ward_successors",
    db.metadata,
    sa.Column(
        "predecessor_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("successor_code", sa.ForeignKey("wards.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("main", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.CheckConstraint("predecessor_code <> successor_code", name="not_self"),
)


class Province(db.Model):
    __tablename__ = "provinces"
    __table_args__ = (sa.CheckConstraint(f"type IN {PROVINCE_TYPES!r}", name="type"),)

    code: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # official, "01"
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)  # "ha_noi"
    name: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(16))

    def __repr__(self) -> str:
        return f"<Province {self.code}>"


class Ward(db.Model):
    """One commune, ward or special zone. Units created before the national map keep
    their slug codes ("lang_thuong"); units of the national map use the official code
    ("00187"). `valid_to` is the last day a unit existed: set when it merged or split."""

    __tablename__ = "wards"
    __table_args__ = (
        sa.CheckConstraint(f"type IS NULL OR type IN {UNIT_TYPES!r}", name="type"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to", name="validity"
        ),
    )

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    slug: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    # The district of units from before July 2025; None for units of the two-level map.
    district: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    province_code: Mapped[str | None] = mapped_column(sa.ForeignKey("provinces.code"), index=True)
    type: Mapped[str | None] = mapped_column(sa.String(16))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]

    neighbors: Mapped[list[Ward]] = relationship(
        secondary=ward_neighbors,
        primaryjoin=code == ward_neighbors.c.ward_code,
        secondaryjoin=code == ward_neighbors.c.neighbor_code,
        order_by="Ward.code",
    )
    province: Mapped[Province | None] = relationship()

    def is_current(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )

    def __repr__(self) -> str:
        return f"<Ward {self.code}>"
