"""Vocabulary terms an admin adds beyond the built-in codes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.extensions import db


class VocabularyTerm(db.Model):
    __tablename__ = "vocabulary_terms"
    __table_args__ = (sa.UniqueConstraint("vocabulary", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vocabulary: Mapped[str] = mapped_column(sa.String(64))
    code: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(200))
    label_en: Mapped[str | None] = mapped_column(sa.String(200))
