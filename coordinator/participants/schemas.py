"""Participant schemas: what a learner (or an organizer for them) sends, and gets back."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.schemas import Schema, SlugList, Text
from coordinator.vocabularies.terms import TARGET_GROUPS


class ParticipantCreateSchema(Schema):
    full_name = Text(required=True, validate=validate.Length(1, 200))
    ward = fields.String(required=True, validate=validate.Length(1, 64))
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    accessibility_needs = SlugList(load_default=list)
    contact = Text(validate=validate.Length(max=320), metadata={"description": "Phone or email"})
    guardian_contact = Text(validate=validate.Length(max=320))
    consent = fields.Boolean(
        load_default=False,
        metadata={"description": "Required (true) when a participant registers themselves."},
    )
    locale = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))


class ParticipantCreatedSchema(Schema):
    """Deliberately without needs or contact: the answer echoes nothing sensitive."""

    id = fields.Integer(required=True)
    ward = fields.String(required=True)
    target_group = fields.String(required=True)
    feed_url = fields.String(required=True, metadata={"description": "Private calendar (https)"})
    webcal_url = fields.String(required=True)
    google_url = fields.String(required=True)
