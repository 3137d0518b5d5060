"""Volunteer and token schemas (load and dump kept apart where they differ)."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate, validates_schema

from coordinator.schemas import (
    BCP47,
    SLUG,
    Bool,
    ClockTime,
    LocalDateTime,
    Phone,
    Schema,
    SlugList,
    Text,
)
from coordinator.vocabularies.terms import TARGET_GROUPS


def PlainText(minimum: int, maximum: int, **kwargs) -> fields.String:  # noqa: N802 - a field
    """One line of text of a bounded length (no control characters; see `Text`)."""
    return Text(multiline=False, validate=validate.Length(minimum, maximum), **kwargs)


class TokenRequestSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = LocalDateTime(required=True)


class ApiTokenSchema(Schema):
    """One of the caller's live bearer tokens: never the secret, nor its hash."""

    id = fields.Integer(required=True)
    prefix = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The token's first characters, to tell tokens apart "
            "(null for tokens made before prefixes were kept)",
            "example": "q3Zf_k",
        },
    )
    created_at = LocalDateTime(required=True)
    expires_at = LocalDateTime(required=True)
    current = fields.Boolean(
        required=True, metadata={"description": "The token this request was made with"}
    )


class TokenListArgs(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    # Bounded as the sessions list is: the database binds it as a 64-bit integer.
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


class AvailabilitySchema(Schema):
    weekday = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, 6),
        metadata={"description": "0 = Monday"},
    )
    start = ClockTime(required=True, attribute="start_minute", metadata={"example": "18:00"})
    end = ClockTime(required=True, attribute="end_minute", metadata={"example": "20:00"})

    @validates_schema
    def _start_before_end(self, data, **kwargs):
        if (
            "start_minute" in data
            and "end_minute" in data
            and data["start_minute"] >= data["end_minute"]
        ):
            raise ma.ValidationError(_("End must be after start."), "end")


class PreferencesSchema(Schema):
    wards = SlugList(load_default=list)
    topics = fields.List(PlainText(1, 32), validate=validate.Length(max=50), load_default=list)
    target_groups = fields.List(
        fields.String(validate=validate.OneOf(TARGET_GROUPS)), load_default=list
    )


def _availability_list(**kwargs) -> fields.List:
    return fields.List(
        fields.Nested(AvailabilitySchema), validate=validate.Length(max=50), **kwargs
    )


class VolunteerCreateSchema(Schema):
    full_name = PlainText(1, 200, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=320))
    phone = Phone(allow_none=True)
    home_ward = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "kim_lien"}
    )
    skills = SlugList(load_default=list)
    languages = fields.List(fields.String(validate=BCP47), load_default=lambda: ["vi"])
    accessibility_skills = SlugList(load_default=list)
    is_expert = Bool(load_default=False)
    availability = _availability_list(load_default=list)
    max_sessions_per_week = fields.Integer(
        load_default=2, strict=True, validate=validate.Range(0, 14)
    )
    preferences = fields.Nested(PreferencesSchema, load_default=dict)
    locale = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))
    password = fields.String(
        load_only=True,
        validate=validate.Length(10, 1024, error=_l("Password: at least 10 characters.")),
        metadata={"description": "Required for self sign-up; creates a volunteer login."},
    )


class VolunteerUpdateSchema(VolunteerCreateSchema):
    """Every top-level field optional; nested items (an availability window) stay whole."""

    class Meta(Schema.Meta):
        exclude = ("password",)

    def __init__(self, **kwargs):
        # partial=True would reach into nested schemas and let a window lack its end.
        kwargs.setdefault("partial", tuple(self._declared_fields))
        super().__init__(**kwargs)


PRIVATE = {
    "description": "Only for the volunteer and the organizers of the units where they live "
    "or serve (their home ward, or a ward where they hold a booking)"
}


class VolunteerSchema(Schema):
    id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    email = fields.String(metadata=PRIVATE)
    phone = fields.String(allow_none=True, metadata=PRIVATE)
    home_ward = fields.String(required=True)
    skills = fields.List(fields.String(), required=True)
    languages = fields.List(fields.String(), required=True)
    accessibility_skills = fields.List(fields.String(), required=True)
    is_expert = fields.Boolean(required=True)
    availability = fields.List(fields.Nested(AvailabilitySchema), metadata=PRIVATE)
    max_sessions_per_week = fields.Integer(required=True)
    preferences = fields.Dict(metadata=PRIVATE)
    locale = fields.String(required=True)
    user_id = fields.Integer(allow_none=True, metadata=PRIVATE)
    version = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)


class VolunteerListArgs(Schema):
    ward = fields.String(validate=SLUG)
    skill = fields.String(validate=SLUG)
    accessibility_skill = fields.String(validate=SLUG)
    is_expert = fields.Boolean()
    q = PlainText(0, 200)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class UnitSchema(Schema):
    code = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["province", "ward"]))
    name = fields.String(required=True)


class ScopesSchema(Schema):
    """The units an organizer works for; none: national (admins are always national)."""

    user_id = fields.Integer(required=True)
    national = fields.Boolean(required=True)
    units = fields.List(fields.Nested(UnitSchema), required=True)


class ScopesUpdateSchema(Schema):
    units = fields.List(
        PlainText(1, 64),
        required=True,
        validate=validate.Length(max=200),
        metadata={
            "description": "Province codes or slugs ('01', 'ha_noi') and ward codes or slugs; "
            "an empty list makes the organizer national"
        },
    )
