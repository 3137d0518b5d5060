"""GET /api/v1/competences: the digital-skills framework."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from marshmallow import fields

from coordinator.competences.models import Competence, ProficiencyLevel
from coordinator.extensions import Blueprint, db
from coordinator.schemas import Schema

blp = Blueprint(
    "competences", __name__, url_prefix="/api/v1/competences", description="Competence framework"
)


class CompetenceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)
    area = fields.String(
        attribute="area_code", allow_none=True, metadata={"description": "null for an area"}
    )


class LevelSchema(Schema):
    level = fields.Integer(required=True)
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)


@blp.get("")
@blp.response(200, CompetenceSchema(many=True))
def list_competences() -> list[Competence]:
    """Areas and their competences, in framework order."""
    rows = db.session.scalars(sa.select(Competence)).all()
    areas = sorted((c for c in rows if c.area_code is None), key=lambda c: c.position)
    ordered: list[Competence] = []
    for area in areas:
        ordered.append(area)
        ordered.extend(
            sorted((c for c in rows if c.area_code == area.code), key=lambda c: c.position)
        )
    return ordered


@blp.get("/levels")
@blp.response(200, LevelSchema(many=True))
def list_levels() -> Sequence[ProficiencyLevel]:
    """Proficiency levels (1-8)."""
    return db.session.scalars(sa.select(ProficiencyLevel).order_by(ProficiencyLevel.level)).all()
