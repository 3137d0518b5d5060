"""Booking schemas: sign-ups, assignments, staffing, registrations."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import gettext as _
from marshmallow import fields, validate, validates_schema

from coordinator.matching.reasons import reasons_text
from coordinator.schemas import SLUG, Bool, LocalDateTime, Schema

ID = {"strict": True, "validate": validate.Range(1, 2**31 - 1)}


class SignupRequestSchema(Schema):
    role = fields.String(required=True, validate=SLUG)
    volunteer_id = fields.Integer(
        metadata={"description": "Organizers sign up someone else; volunteers omit it."}, **ID
    )


class AssignmentRequestSchema(Schema):
    role = fields.String(
        validate=SLUG, metadata={"description": "Members' role for a squad (default helper)."}
    )
    volunteer_id = fields.Integer(**ID)
    squad_id = fields.Integer(**ID)
    propose = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Ask instead of book: the seat is held until the answer deadline "
            "(answer_by), then the proposal expires. One volunteer only."
        },
    )
    override = Bool(
        load_default=False,
        metadata={
            "description": "Assign even outside availability, over the weekly limit or "
            "without a required skill (recorded in the audit trail); never past a clash."
        },
    )

    @validates_schema
    def _one_target(self, data, **kwargs):
        if ("volunteer_id" in data) == ("squad_id" in data):
            raise ma.ValidationError(_("Give volunteer_id or squad_id."), "volunteer_id")
        if "volunteer_id" in data and "role" not in data:
            raise ma.ValidationError(_("A role is required."), "role")
        if data.get("propose") and "squad_id" in data:
            raise ma.ValidationError(_("Propose one volunteer at a time."), "propose")


class ReasonSchema(Schema):
    reason = fields.String(validate=validate.Length(max=1000))


class AssignmentSchema(Schema):
    id = fields.Integer(required=True)
    session_id = fields.Integer(required=True)
    role = fields.Function(lambda a: a.role.role)
    volunteer_id = fields.Integer(required=True)
    squad_id = fields.Integer(allow_none=True)
    source = fields.String(required=True)
    status = fields.String(required=True)
    position = fields.Integer(attribute="waitlist_position", allow_none=True)
    late_withdrawal = fields.Boolean()
    # The matcher's reasons (codes) in the request's language.
    reasons = fields.Function(lambda a: reasons_text(a.reasons or ()))
    created_at = LocalDateTime()
    decided_at = LocalDateTime(allow_none=True)
    answer_by = LocalDateTime(
        allow_none=True,
        metadata={"description": "A proposal holds its seat until then, then expires."},
    )


class SquadAssignmentResultSchema(Schema):
    assignments = fields.List(fields.Nested(AssignmentSchema), required=True)
    skipped = fields.List(fields.Dict(), required=True)


class StaffingSchema(Schema):
    role = fields.String(required=True)
    needed = fields.Integer(required=True)
    confirmed = fields.Integer(required=True)
    proposed = fields.Integer(required=True)
    held = fields.Integer(
        required=True, metadata={"description": "Seats held by proposals awaiting an answer."}
    )
    held_until = LocalDateTime(
        allow_none=True, metadata={"description": "The latest answer deadline of those holds."}
    )
    free = fields.Integer(
        required=True, metadata={"description": "Seats nobody holds: a sign-up is confirmed."}
    )
    waitlisted = fields.Integer(required=True)
    required_skills = fields.List(fields.String())


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(required=True)
    occurred_at = LocalDateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    payload = fields.Dict()


class RegistrationRequestSchema(Schema):
    participant_id = fields.Integer(required=True, **ID)


class RegistrationSchema(Schema):
    id = fields.Integer(required=True)
    session_id = fields.Integer(required=True)
    participant_id = fields.Integer(required=True)
    status = fields.String(required=True)
    position = fields.Integer(attribute="waitlist_position", allow_none=True)
    created_at = LocalDateTime()


class CoverOfferSchema(Schema):
    id = fields.Integer(required=True)
    rank = fields.Integer(required=True, metadata={"description": "1: the best fit."})
    status = fields.String(
        required=True, metadata={"enum": ["offered", "accepted", "declined", "voided"]}
    )


class CoverRequestSchema(Schema):
    id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    session_id = fields.Integer(required=True)
    status = fields.String(
        required=True, metadata={"enum": ["open", "taken", "withdrawn", "lapsed", "closed"]}
    )
    deadline = LocalDateTime(
        required=True,
        metadata={"description": "Offers are answered until then, then the organizer is told."},
    )
    covered_by_id = fields.Integer(allow_none=True)
    offers = fields.List(
        fields.Nested(CoverOfferSchema),
        required=True,
        metadata={"description": "The volunteers asked, best fit first (no names)."},
    )
