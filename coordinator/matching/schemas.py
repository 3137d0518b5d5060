"""Matching runs at the API edge."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.matching.models import RUN_STATUSES
from coordinator.schemas import LocalDateTime, Schema, Text


class RunRequestSchema(Schema):
    ward = Text(validate=validate.Length(1, 64))
    from_ = LocalDateTime(data_key="from")
    to = LocalDateTime()


class ProposalSchema(Schema):
    session_id = fields.Integer(required=True)
    role = fields.String(required=True)
    volunteer_id = fields.Integer(required=True)
    reasons = fields.List(fields.String(), required=True)


class UnfilledSchema(Schema):
    session_id = fields.Integer(required=True)
    role = fields.String(required=True)
    seats = fields.Integer(required=True)
    reasons = fields.List(fields.String(), required=True)


class ProgressSchema(Schema):
    stage = fields.String()
    fraction = fields.Float()


class RunSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    kind = fields.String(required=True)
    ward = fields.String(allow_none=True)
    units = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "the units a scoped organizer's run plans; null: all"},
    )
    from_ = LocalDateTime(data_key="from", attribute="window_from", allow_none=True)
    to = LocalDateTime(attribute="window_to", allow_none=True)
    filled = fields.Integer(required=True)
    unfilled = fields.Integer(required=True)
    objective = fields.Float(allow_none=True)
    progress = fields.Nested(ProgressSchema, allow_none=True)
    proposals = fields.List(fields.Nested(ProposalSchema), required=True)
    unfilled_detail = fields.List(fields.Nested(UnfilledSchema), required=True)
    error = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    started_at = LocalDateTime(allow_none=True)
    finished_at = LocalDateTime(allow_none=True)


class RunSummarySchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    kind = fields.String(required=True)
    ward = fields.String(allow_none=True)
    filled = fields.Integer(required=True)
    unfilled = fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    finished_at = LocalDateTime(allow_none=True)


class RunAcceptedSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
