"""Participant schemas: what a learner (or an organizer for them) sends, and gets back."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.bookings.models import VOLUNTEER_ATTENDANCE
from coordinator.schemas import Bool, Contact, Schema, SlugList, Text
from coordinator.vocabularies.terms import TARGET_GROUPS


class ParticipantCreateSchema(Schema):
    full_name = Text(multiline=False, required=True, validate=validate.Length(1, 200))
    ward = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "kim_lien"}
    )
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    accessibility_needs = SlugList(load_default=list)
    contact = Contact(
        metadata={"description": "Phone or email; a Vietnamese mobile number is stored in E.164"}
    )
    guardian_contact = Contact(metadata={"description": "Phone or email, as `contact`"})
    consent = Bool(
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


class AttendanceEntrySchema(Schema):
    registration_id = fields.Integer(required=True, strict=True)
    attended = Bool(required=True)
    levels = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 32)),
        values=fields.Integer(strict=True, validate=validate.Range(1, 8)),
        load_default=dict,
        metadata={"description": "Competence area code -> level 1-8 (DigComp 2.2)"},
    )
    reached_basic = Bool(load_default=False)


class AttendanceSchema(Schema):
    entries = fields.List(
        fields.Nested(AttendanceEntrySchema), required=True, validate=validate.Length(max=2000)
    )


class RosterEntrySchema(Schema):
    """What session staff see: the first name and the needs to help with, no contacts."""

    registration_id = fields.Integer(required=True)
    participant_id = fields.Integer(required=True)
    first_name = fields.String(allow_none=True)
    accessibility_needs = fields.List(fields.String(), required=True)
    attended = fields.Boolean(allow_none=True)
    levels = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    reached_basic = fields.Boolean(required=True)


class VolunteerAttendanceEntrySchema(Schema):
    """What the lead records for one confirmed booking of the session."""

    assignment_id = fields.Integer(required=True, strict=True)
    status = fields.String(required=True, validate=validate.OneOf(VOLUNTEER_ATTENDANCE))


class VolunteerAttendanceSchema(Schema):
    """A confirmed booking on the volunteers' sheet."""

    assignment_id = fields.Integer(required=True)
    volunteer_id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    role = fields.String(required=True)
    attendance = fields.String(
        allow_none=True, metadata={"description": "attended|late|no_show|excused, or null"}
    )
    recorded_at = fields.DateTime(allow_none=True)
    self_reported_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When the volunteer said they came (the post-session message's "
            "link): a suggestion for the sheet; `attendance`, the lead's word, wins."
        },
    )
