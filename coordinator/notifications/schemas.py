"""The notifications API's bodies: the caller's message preferences, and organizers'
message costs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from coordinator.notifications.channels import DEFAULT_ORDER
from coordinator.notifications.kinds import KINDS, USER, VOLUNTEER
from coordinator.schemas import Text

AUDIENCES = (VOLUNTEER, USER)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class NotificationPreferenceSchema(Schema):
    audience = fields.String(
        required=True,
        validate=validate.OneOf(AUDIENCES),
        metadata={"description": "volunteer: as a volunteer; user: as an organizer"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(sorted(KINDS)))
    label = fields.String(dump_only=True, metadata={"description": "In the caller's language"})
    enabled = fields.Boolean(metadata={"description": "Whether this kind is sent at all"})
    channels = fields.List(
        fields.String(validate=validate.OneOf(DEFAULT_ORDER)),
        validate=validate.Length(1, 3),
        metadata={"description": "The channels to try, in order (one of channel_choices)"},
    )
    channel_choices = fields.List(
        fields.List(fields.String()),
        dump_only=True,
        metadata={"description": "The orders this kind may take"},
    )


class NotificationPreferencesSchema(Schema):
    preferences = fields.List(fields.Nested(NotificationPreferenceSchema), required=True)


class MessageCostArgs(Schema):
    month = fields.String(
        validate=validate.Regexp(MONTH_PATTERN),
        metadata={"description": "YYYY-MM, local time (default: this month)"},
    )
    province = Text(
        validate=validate.Length(1, 8),
        metadata={"description": "A province's code: its units only (within the caller's)"},
    )


class MessageChannelCostSchema(Schema):
    channel = fields.String(required=True)
    messages = fields.Integer(required=True)
    vnd = fields.Integer(required=True, metadata={"description": "Estimated cost"})


class MessageUnitCostSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    messages = fields.Integer(required=True)
    vnd = fields.Integer(required=True)
    channels = fields.List(fields.Nested(MessageChannelCostSchema), required=True)


class MessageProvinceCostSchema(MessageUnitCostSchema):
    spent_vnd = fields.Integer(
        required=True,
        metadata={"description": "The whole province's Zalo and SMS this month (budgeted)"},
    )
    budget_vnd = fields.Integer(allow_none=True, metadata={"description": "MESSAGE_BUDGET_VND"})
    left_vnd = fields.Integer(allow_none=True, metadata={"description": "null: no budget"})
    wards = fields.List(fields.Nested(MessageUnitCostSchema), required=True)


class MessageCostReportSchema(Schema):
    month = fields.String(required=True, metadata={"example": "2026-12"})
    budget_vnd = fields.Integer(allow_none=True)
    messages = fields.Integer(required=True)
    vnd = fields.Integer(required=True)
    provinces = fields.List(fields.Nested(MessageProvinceCostSchema), required=True)
