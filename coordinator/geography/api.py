"""Wards: GET /api/v1/wards and /api/v1/wards/{code}."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import fields

from coordinator.errors import NotFound
from coordinator.extensions import Blueprint, db
from coordinator.geography.models import Ward
from coordinator.geography.operations import find_ward, neighbor_map
from coordinator.schemas import Schema

blp = Blueprint("wards", __name__, url_prefix="/api/v1/wards", description="Wards of the district")


class WardSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    neighbors = fields.List(fields.String(), required=True)


def _ward_dict(ward: Ward, neighbors: dict[str, set[str]]) -> dict[str, Any]:
    return {
        "code": ward.code,
        "name": ward.name,
        "name_en": ward.name_en,
        "district": ward.district,
        "neighbors": sorted(neighbors.get(ward.code, ())),
    }


@blp.get("")
@blp.response(200, WardSchema(many=True))
def list_wards() -> list[dict[str, Any]]:
    """All wards with their neighbours."""
    neighbors = neighbor_map()
    return [
        _ward_dict(w, neighbors) for w in db.session.scalars(sa.select(Ward).order_by(Ward.code))
    ]


@blp.get("/<code>")
@blp.response(200, WardSchema)
def get_ward(code: str) -> dict[str, Any]:
    """One ward."""
    ward = find_ward(code)
    if ward is None:
        raise NotFound(f"Không có phường '{code}' / No ward '{code}'.")
    return _ward_dict(ward, neighbor_map())
