"""Import jobs at the API edge."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.imports.models import IMPORT_KINDS, IMPORT_STATUSES
from coordinator.schemas import LocalDateTime, Schema


class ImportProgressSchema(Schema):
    stage = fields.String()
    fraction = fields.Float()


class ImportSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(IMPORT_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(IMPORT_STATUSES))
    valid_rows_only = fields.Boolean(required=True)
    progress = fields.Nested(ImportProgressSchema, allow_none=True)
    rows = fields.Integer(required=True, metadata={"description": "Data rows read"})
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Line number -> what is wrong with that line"},
    )
    error = fields.String(allow_none=True, metadata={"description": "Why the job failed"})
    created_at = LocalDateTime(required=True)
    started_at = LocalDateTime(allow_none=True)
    finished_at = LocalDateTime(allow_none=True)


class ImportAcceptedSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    status_url = fields.String(required=True, metadata={"description": "Poll this for the result"})
