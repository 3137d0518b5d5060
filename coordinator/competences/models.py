"""The digital-skills competence framework: areas, competences and proficiency levels."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.extensions import db


class Competence(db.Model):
    """An area (no parent) or a competence inside an area."""

    __tablename__ = "competences"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    name_en: Mapped[str | None] = mapped_column(sa.String(300))
    area_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("competences.code", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)

    @property
    def is_area(self) -> bool:
        return self.area_code is None


class ProficiencyLevel(db.Model):
    __tablename__ = "proficiency_levels"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(100))
