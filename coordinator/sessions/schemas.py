"""Training session schemas: create, update, list arguments, public and organizer views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from marshmallow import fields, validate, validates_schema

from coordinator.schemas import (
    SLUG,
    LanguageList,
    LocalDateTime,
    Schema,
    SlugList,
    Text,
    local_iso,
)
from coordinator.sessions.limits import (
    CAPACITY,
    DESCRIPTION,
    REASON,
    ROLE_SEATS,
    ROLES,
    TITLE,
    VENUE,
    WEEKLY,
)
from coordinator.sessions.models import MAX_DURATION, SESSION_STATUSES
from coordinator.vocabularies.terms import TARGET_GROUPS


class RoleSchema(Schema):
    role = fields.String(required=True, validate=SLUG)
    count = fields.Integer(required=True, strict=True, validate=validate.Range(*ROLE_SEATS))
    required_skills = SlugList(load_default=list)


class RoleStaffingSchema(RoleSchema):
    confirmed = fields.Integer(attribute="taken")


class RepeatSchema(Schema):
    weekly = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(*WEEKLY),
        metadata={"description": "How many sessions in all, one a week (including the first)."},
    )


def _check_times_and_roles(data: dict) -> None:
    starts, ends = data.get("starts_at"), data.get("ends_at")
    if starts and ends:
        if ends <= starts:
            raise ma.ValidationError(_("ends_at must be after starts_at."), "ends_at")
        if ends - starts > MAX_DURATION:
            raise ma.ValidationError(_("A session lasts at most 12 hours."), "ends_at")
    roles = [r["role"] for r in data.get("roles", [])]
    if len(roles) != len(set(roles)):
        raise ma.ValidationError(_("Each role once."), "roles")


class SessionCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(*TITLE))
    description = Text(load_default="", validate=validate.Length(*DESCRIPTION))
    competence_area = Text(
        required=True, validate=validate.Length(1, 32), metadata={"example": "1"}
    )
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    ward = Text(required=True, validate=validate.Length(1, 64), metadata={"example": "kim_lien"})
    venue = Text(required=True, validate=validate.Length(*VENUE))
    venue_accessibility = SlugList(load_default=list)
    starts_at = LocalDateTime(required=True, metadata={"example": "2030-09-03T18:00:00+07:00"})
    ends_at = LocalDateTime(required=True, metadata={"example": "2030-09-03T20:00:00+07:00"})
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(*CAPACITY))
    roles = fields.List(
        fields.Nested(RoleSchema), load_default=list, validate=validate.Length(*ROLES)
    )
    participant_needs = SlugList(load_default=list)
    languages = LanguageList(load_default=lambda: ["vi"])
    repeat = fields.Nested(RepeatSchema)

    @validates_schema
    def _consistent(self, data, **kwargs):
        _check_times_and_roles(data)


class SessionUpdateSchema(Schema):
    title = Text(validate=validate.Length(*TITLE))
    description = Text(validate=validate.Length(*DESCRIPTION))
    competence_area = Text(validate=validate.Length(1, 32))
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    ward = Text(validate=validate.Length(1, 64))
    venue = Text(validate=validate.Length(*VENUE))
    venue_accessibility = SlugList()
    starts_at = LocalDateTime()
    ends_at = LocalDateTime()
    capacity = fields.Integer(strict=True, validate=validate.Range(*CAPACITY))
    roles = fields.List(fields.Nested(RoleSchema), validate=validate.Length(*ROLES))
    participant_needs = SlugList()
    languages = LanguageList()
    reason = Text(
        validate=validate.Length(max=1000), metadata={"description": "For the audit trail"}
    )

    @validates_schema
    def _consistent(self, data, **kwargs):
        _check_times_and_roles(data)


class CancelSchema(Schema):
    reason = Text(required=True, validate=validate.Length(*REASON))
    # occurrence: this session only; rest_of_series: it and its series' later sessions.
    scope = fields.String(
        load_default="occurrence", validate=validate.OneOf(["occurrence", "rest_of_series"])
    )


class SessionListArgs(Schema):
    ward = Text(validate=validate.Length(max=64))
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    status = fields.String(validate=validate.OneOf(SESSION_STATUSES))
    competence_area = Text(validate=validate.Length(max=32))
    from_ = LocalDateTime(data_key="from")
    to = LocalDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))

    @validates_schema
    def _window(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] <= data["from_"]:
            raise ma.ValidationError(_("'to' must be after 'from'."), "to")


class SessionPublicSchema(Schema):
    """What anyone may see: no organizer, no participant data. Organizers get the same
    endpoints with more fields, so the documented object stays open to extra ones."""

    class Meta(Schema.Meta):
        unknown = ma.EXCLUDE  # dump-only: documents no additionalProperties: false

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String()
    competence_area = fields.String(required=True)
    target_group = fields.String(required=True)
    ward = fields.String(required=True)
    venue = fields.String(required=True)
    venue_accessibility = fields.List(fields.String())
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    capacity = fields.Integer(required=True)
    seats_left = fields.Function(lambda s: max(s.capacity - s.registered_count, 0))
    participant_needs = fields.List(fields.String())
    languages = fields.List(fields.String())
    roles = fields.List(fields.Nested(RoleStaffingSchema))
    status = fields.String(required=True)
    cancel_reason = fields.String(allow_none=True)
    series_id = fields.Integer(allow_none=True)
    version = fields.Integer(required=True)
    updated_at = LocalDateTime(required=True)


def _strings(values: list | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def dump_public_sessions(sessions: Iterable[Any]) -> list[dict[str, Any]]:
    """`SessionPublicSchema(many=True).dump(sessions)`, field for field, without
    marshmallow's machinery per field and value: half the CPU of a session list of a
    hundred sessions. The schema stays the contract (and the documentation); a test
    holds this equal to it."""
    rows = []
    for s in sessions:
        rows.append(
            {
                "id": int(s.id),
                "title": str(s.title),
                "description": None if s.description is None else str(s.description),
                "competence_area": str(s.competence_area),
                "target_group": str(s.target_group),
                "ward": str(s.ward),
                "venue": str(s.venue),
                "venue_accessibility": _strings(s.venue_accessibility),
                "starts_at": local_iso(s.starts_at),
                "ends_at": local_iso(s.ends_at),
                "capacity": int(s.capacity),
                "seats_left": max(s.capacity - s.registered_count, 0),
                "participant_needs": _strings(s.participant_needs),
                "languages": _strings(s.languages),
                "roles": [
                    {
                        "role": str(r.role),
                        "count": int(r.count),
                        "required_skills": _strings(r.required_skills),
                        "confirmed": int(r.taken),
                    }
                    for r in s.roles
                ],
                "status": str(s.status),
                "cancel_reason": None if s.cancel_reason is None else str(s.cancel_reason),
                "series_id": None if s.series_id is None else int(s.series_id),
                "version": int(s.version),
                "updated_at": local_iso(s.updated_at),
            }
        )
    return rows


class SessionSchema(SessionPublicSchema):
    """The organizer's view."""

    registered_count = fields.Integer()
    organizer_id = fields.Integer(allow_none=True)
    sequence = fields.Integer()
    created_at = LocalDateTime()
    cancelled_at = LocalDateTime(allow_none=True)


class SessionCreatedSchema(SessionSchema):
    """The first session created, with the ids of the whole series when it repeats."""

    series_session_ids = fields.List(
        fields.Integer(), metadata={"description": "Every session of the series, in order"}
    )
