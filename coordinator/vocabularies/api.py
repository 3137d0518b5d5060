"""GET /api/v1/vocabularies."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from coordinator.extensions import Blueprint
from coordinator.schemas import Schema
from coordinator.vocabularies.terms import all_vocabularies

blp = Blueprint("vocabularies", __name__, url_prefix="/api/v1", description="Code lists")


class TermSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    label_en = fields.String(allow_none=True)


class VocabulariesSchema(Schema):
    target_group = fields.List(fields.Nested(TermSchema))
    accessibility_skills = fields.List(fields.Nested(TermSchema))
    venue_accessibility = fields.List(fields.Nested(TermSchema))
    roles = fields.List(fields.Nested(TermSchema))
    languages = fields.List(fields.Nested(TermSchema))


@blp.get("/vocabularies")
@blp.response(200, VocabulariesSchema)
def list_vocabularies() -> dict[str, list[dict[str, Any]]]:
    """The code lists used across the API, with Vietnamese and English labels."""
    return all_vocabularies()
