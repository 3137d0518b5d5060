"""The map: GET /api/v1/provinces, GET /api/v1/wards (paged), GET /api/v1/wards/{code},
and PUT /api/v1/wards/{code}/neighbors for organizers."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify
from flask_babel import gettext as _
from marshmallow import fields, validate

from coordinator.errors import NotFound
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.geography.models import Province, Ward, ward_neighbors, ward_successors
from coordinator.geography.operations import exists_today, find_ward, set_neighbors
from coordinator.paging import MAX_OFFSET, PAGE_HEADERS, count, page_headers
from coordinator.people.auth import roles_required
from coordinator.people.scopes import require_in_scope
from coordinator.schemas import Schema, Text

blp = Blueprint(
    "wards", __name__, url_prefix="/api/v1/wards", description="Communes, wards and special zones"
)
provinces_blp = Blueprint(
    "provinces", __name__, url_prefix="/api/v1/provinces", description="Provinces and cities"
)
BEARER = [{"bearerAuth": []}]


class ProvinceSchema(Schema):
    code = fields.String(required=True, metadata={"example": "01"})
    slug = fields.String(required=True, metadata={"example": "ha_noi"})
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)
    type = fields.String(required=True, metadata={"description": "tinh or thanh_pho"})


class WardSchema(Schema):
    code = fields.String(required=True, metadata={"example": "00187"})
    slug = fields.String(allow_none=True, metadata={"example": "ha_noi_phuong_lang"})
    name = fields.String(required=True)
    name_en = fields.String(allow_none=True)
    district = fields.String(allow_none=True, metadata={"description": "before July 2025 only"})
    province = fields.String(allow_none=True)
    type = fields.String(allow_none=True, metadata={"description": "xa, phuong or dac_khu"})
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True, metadata={"description": "last day; null: current"})
    successors = fields.List(
        fields.String(), required=True, metadata={"description": "the main successor first"}
    )
    neighbors = fields.List(fields.String(), required=True)


class WardListArgs(Schema):
    province = Text(validate=validate.Length(max=8))
    current = fields.Boolean(metadata={"description": "only units that exist today"})
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 5000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET))


class NeighborsSchema(Schema):
    neighbors = fields.List(Text(validate=validate.Length(1, 120)), required=True)


def _links(table: sa.Table, left: sa.Column, right: sa.Column, codes: Any, order=()):
    """`right` per `left` in `codes` (a list, or a select of codes: a page of units is
    one subquery, not a thousand bind parameters)."""
    result: dict[str, list[str]] = defaultdict(list)
    for a, b in db.session.execute(sa.select(left, right).where(left.in_(codes)).order_by(*order)):
        result[a].append(b)
    return result


def _links_of(codes: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The neighbours and the successors (the main one first) of the units `codes`."""
    neighbors = _links(
        ward_neighbors,
        ward_neighbors.c.ward_code,
        ward_neighbors.c.neighbor_code,
        codes,
        (ward_neighbors.c.neighbor_code,),
    )
    successors = _links(
        ward_successors,
        ward_successors.c.predecessor_code,
        ward_successors.c.successor_code,
        codes,
        (ward_successors.c.main.desc(), ward_successors.c.successor_code),
    )
    return neighbors, successors


def _ward_dicts(wards: list[Ward]) -> list[dict[str, Any]]:
    neighbors, successors = _links_of([w.code for w in wards])
    return [
        {
            "code": w.code,
            "slug": w.slug,
            "name": w.name,
            "name_en": w.name_en,
            "district": w.district,
            "province": w.province_code,
            "type": w.type,
            "valid_from": w.valid_from,
            "valid_to": w.valid_to,
            "successors": successors[w.code],
            "neighbors": neighbors[w.code],
        }
        for w in wards
    ]


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def ward_page_body(page: sa.Select[Any]) -> list[dict[str, Any]]:
    """The units a page of `page` (a select of Ward, ordered and limited) selects, as
    WardSchema dumps them (a test compares the two), built directly: marshmallow took
    most of a 1,000-unit page's time. Plain columns, not Ward objects, and the links of
    the page's codes as a subquery."""
    rows = db.session.execute(
        page.with_only_columns(
            Ward.code,
            Ward.slug,
            Ward.name,
            Ward.name_en,
            Ward.district,
            Ward.province_code,
            Ward.type,
            Ward.valid_from,
            Ward.valid_to,
        )
    ).all()
    if not rows:
        return []
    neighbors, successors = _links_of(page.with_only_columns(Ward.code).scalar_subquery())
    return [
        {
            "code": code,
            "slug": slug,
            "name": name,
            "name_en": name_en,
            "district": district,
            "province": province,
            "type": kind,
            "valid_from": _day(valid_from),
            "valid_to": _day(valid_to),
            "successors": successors[code],
            "neighbors": neighbors[code],
        }
        for code, slug, name, name_en, district, province, kind, valid_from, valid_to in rows
    ]


@blp.get("")
@blp.arguments(WardListArgs, location="query")
@blp.response(200, WardSchema(many=True), headers=PAGE_HEADERS)
def list_wards(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """Units by code (ended ones too, with their successors), a page at a time; the
    total in X-Total-Count, the next page in Link."""
    query = sa.select(Ward)
    if args.get("province"):
        query = query.where(Ward.province_code == args["province"])
    if args.get("current"):
        query = query.where(exists_today())
    total = count(query)
    body = ward_page_body(query.order_by(Ward.code).limit(args["limit"]).offset(args["offset"]))
    return jsonify(body), 200, page_headers(total, args["limit"], args["offset"])


@blp.get("/<code>")
@blp.response(200, WardSchema)
def get_ward(code: str) -> dict[str, Any]:
    """One unit, by code or slug."""
    ward = find_ward(code, or_slug=True)
    if ward is None:
        raise NotFound(_("No ward '%(code)s'.", code=code))
    return _ward_dicts([ward])[0]


@blp.put("/<code>/neighbors")
@roles_required("organizer")
@blp.arguments(NeighborsSchema)
@blp.response(200, WardSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Not logged in")
@blp.alt_response(403, schema=ErrorSchema, description="Not an organizer")
@blp.alt_response(404, schema=ErrorSchema, description="No such unit")
@blp.doc(security=BEARER)
def put_neighbors(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Replace a unit's neighbours (kept symmetric): volunteers travel between them. An
    organizer changes the neighbours of their own units (403 elsewhere)."""
    if find_ward(code) is None:
        raise NotFound(_("No ward '%(code)s'.", code=code))
    require_in_scope(code)
    set_neighbors(code, data["neighbors"])
    db.session.commit()
    return _ward_dicts([find_ward(code)])[0]  # type: ignore[list-item]


@provinces_blp.get("")
@provinces_blp.response(200, ProvinceSchema(many=True))
def list_provinces() -> list[Province]:
    """The 34 provinces and centrally-run cities."""
    return list(db.session.scalars(sa.select(Province).order_by(Province.code)))
