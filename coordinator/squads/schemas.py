"""Squad schemas."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.people.models import MAX_ID
from coordinator.people.schemas import PlainText
from coordinator.schemas import LocalDateTime, Schema
from coordinator.vocabularies.terms import TARGET_GROUPS


def VolunteerId(**kwargs) -> fields.Integer:  # noqa: N802 - a field factory reads like a field
    """A volunteer id: a JSON integer in the range of the id column."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


class SquadCreateSchema(Schema):
    name = PlainText(1, 200, required=True)
    leader_id = VolunteerId(required=True, metadata={"example": 1})
    member_ids = fields.List(VolunteerId(), load_default=list, validate=validate.Length(max=100))
    home_ward = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "kim_lien"}
    )
    focus_groups = fields.List(
        fields.String(validate=validate.OneOf(TARGET_GROUPS)), load_default=list
    )


class SquadUpdateSchema(Schema):
    name = PlainText(1, 200)
    leader_id = VolunteerId()
    home_ward = fields.String(validate=validate.Length(1, 64))
    focus_groups = fields.List(fields.String(validate=validate.OneOf(TARGET_GROUPS)))


class MemberSchema(Schema):
    volunteer_id = VolunteerId(required=True)


class SquadPublicSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    home_ward = fields.String(required=True)
    focus_groups = fields.List(fields.String(), required=True)
    member_count = fields.Function(lambda squad: len(squad.memberships))


class SquadSchema(SquadPublicSchema):
    leader_id = fields.Integer(required=True)
    member_ids = fields.List(fields.Integer(), required=True)
    version = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)
