"""Progress and hours schemas: query arguments and the figures as JSON."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from coordinator.paging import limit_field, offset_field
from coordinator.progress.hours import GROUPINGS
from coordinator.progress.operations import MAX_YEAR, MIN_YEAR
from coordinator.progress.selection import LEVELS
from coordinator.schemas import Schema, Text
from coordinator.vocabularies.terms import TARGET_GROUPS

YEAR = validate.Range(MIN_YEAR, MAX_YEAR)


class ProgressArgs(Schema):
    ward = Text(
        validate=validate.Length(1, 64),
        metadata={"description": "A ward's code: that ward with its former units (as unit)"},
    )
    unit = Text(
        validate=validate.Length(1, 64),
        metadata={
            "description": "A ward's code (that ward with the former units it took over) or "
            "a province's code or slug (its units); only within the caller's units"
        },
    )
    level = fields.String(
        load_default="ward",
        validate=validate.OneOf(LEVELS),
        metadata={"description": "One row per ward, per province, or for the whole country"},
    )
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    year = fields.Integer(
        validate=YEAR, metadata={"description": "Plan year (default: this year in Hanoi)"}
    )


class ProgressPageArgs(ProgressArgs):
    limit = limit_field(default=1000, maximum=5000)
    offset = offset_field()


class TargetsImportArgs(Schema):
    valid_rows_only = fields.Boolean(
        load_default=False,
        metadata={"description": "Import the valid rows even when other rows have errors"},
    )


class HoursArgs(Schema):
    by = fields.String(load_default="volunteer", validate=validate.OneOf(GROUPINGS))
    year = fields.Integer(
        validate=YEAR, metadata={"description": "Only sessions starting in this year"}
    )


class HoursPageArgs(HoursArgs):
    limit = limit_field()
    offset = offset_field()


class _Dump(Schema):
    class Meta(Schema.Meta):
        unknown = ma.EXCLUDE


class ProgressFiguresSchema(_Dump):
    baseline = fields.Integer(allow_none=True)
    target = fields.Integer(allow_none=True)
    enrolled = fields.Integer(required=True)
    reached = fields.Integer(required=True)
    reached_percent = fields.Float(
        allow_none=True, metadata={"description": "reached / baseline × 100, one decimal"}
    )
    remaining = fields.Integer(
        allow_none=True, metadata={"description": "target - reached, never below 0"}
    )


class FormerUnitSchema(_Dump):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ProgressRowSchema(ProgressFiguresSchema):
    ward = fields.String(allow_none=True, metadata={"description": "level=ward: the unit"})
    ward_name = fields.String(allow_none=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    unit = fields.String(
        required=True, metadata={"description": "Ward or province code; VN for the country"}
    )
    unit_name = fields.String(required=True)
    province = fields.String(allow_none=True, metadata={"description": "The unit's province"})
    includes = fields.List(
        fields.Nested(FormerUnitSchema),
        required=True,
        metadata={"description": "Former units (merged or split) whose figures are counted here"},
    )
    target_group = fields.String(required=True)
    target_percent = fields.Float(
        allow_none=True,
        metadata={"description": "null when the summed targets have different percentages"},
    )
    target_source = fields.String(
        allow_none=True,
        validate=validate.OneOf(("ward", "wards", "province", "provinces")),
        metadata={
            "description": "ward: the unit's own target; wards: the sum of its units' (or "
            "former units') targets; province: the province's own target, which wins over "
            "its wards'; provinces: the sum of the provinces'; null: no target"
        },
    )
    default_percent = fields.Boolean(
        metadata={"description": "A target without a percentage used the movement's default"}
    )
    reached_before = fields.Integer(
        metadata={"description": "Reached before this service (included in reached)"}
    )


class ProgressWardTotalSchema(ProgressFiguresSchema):
    ward = fields.String(required=True)


class ProgressUnitTotalSchema(ProgressFiguresSchema):
    unit = fields.String(required=True)


class ProgressGroupTotalSchema(ProgressFiguresSchema):
    target_group = fields.String(required=True)


class ProgressTotalsSchema(_Dump):
    by_unit = fields.List(fields.Nested(ProgressUnitTotalSchema), required=True)
    by_ward = fields.List(
        fields.Nested(ProgressWardTotalSchema),
        required=True,
        metadata={"description": "by_unit at level=ward; empty at the other levels"},
    )
    by_group = fields.List(fields.Nested(ProgressGroupTotalSchema), required=True)
    overall = fields.Nested(ProgressFiguresSchema, required=True)


class TargetProgressSchema(_Dump):
    year = fields.Integer(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    rows = fields.List(fields.Nested(ProgressRowSchema), required=True)
    totals = fields.Nested(ProgressTotalsSchema, required=True)


class VolunteerHoursRowSchema(_Dump):
    id = fields.Integer(required=True, metadata={"description": "Volunteer or squad id"})
    name = fields.String(required=True)
    home_ward = fields.String()
    volunteers = fields.Integer(metadata={"description": "Squads: members who worked"})
    sessions = fields.Integer(required=True)
    minutes = fields.Integer(required=True)
    hours = fields.Float(required=True)
    no_shows = fields.Integer(
        metadata={"description": "Volunteers: sessions recorded as no_show (organizers only)"}
    )


class VolunteerHoursSchema(_Dump):
    by = fields.String(required=True)
    year = fields.Integer(allow_none=True)
    rows = fields.List(fields.Nested(VolunteerHoursRowSchema), required=True)
    total_hours = fields.Float(required=True)


def progress_body(report) -> dict:
    """The report as the API's JSON: what `TargetProgressSchema().dump` gives (the schema
    documents it; tests/progress/test_levels.py checks they agree), built directly, since
    marshmallow took most of a 1,000-row page's time (issue 18)."""
    return {
        "year": report.year,
        "level": report.level,
        "rows": [_row_body(row) for row in report.rows],
        "totals": {
            "by_unit": [{"unit": k, **_figures(v)} for k, v in report.by_unit.items()],
            "by_ward": [{"ward": k, **_figures(v)} for k, v in report.by_ward.items()],
            "by_group": [{"target_group": k, **_figures(v)} for k, v in report.by_group.items()],
            "overall": _figures(report.overall),
        },
    }


_ROW_FIELDS = tuple(name for name in ProgressRowSchema._declared_fields if name != "includes")


def _row_body(row) -> dict:
    body = {name: getattr(row, name) for name in _ROW_FIELDS}
    body["includes"] = [{"code": unit.code, "name": unit.name} for unit in row.includes]
    return body


def _figures(figures) -> dict:
    return {
        name: getattr(figures, name)
        for name in ("baseline", "target", "enrolled", "reached", "reached_percent", "remaining")
    }
