"""POST /api/v1/participants: a learner registers (with consent), or an organizer for them."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_babel import gettext as _

from coordinator.bookings import checkin
from coordinator.calendar.tokens import feed_url, subscribe_links
from coordinator.errors import Invalid
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.participants import attendance, records
from coordinator.participants.operations import create_participant
from coordinator.participants.schemas import (
    AttendanceSchema,
    ParticipantCreatedSchema,
    ParticipantCreateSchema,
    RosterEntrySchema,
    VolunteerAttendanceEntrySchema,
    VolunteerAttendanceSchema,
)
from coordinator.people.auth import authenticated_user, is_organizer, user_required
from coordinator.sessions.models import TrainingSession

blp = Blueprint("participants", __name__, url_prefix="/api/v1", description="Participants")


@blp.post("/participants")
@blp.arguments(ParticipantCreateSchema)
@blp.response(201, ParticipantCreatedSchema)
@blp.alt_response(422, schema=ErrorSchema, description="Invalid input or no consent")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts from this address")
@blp.doc(security=[{}, {"bearerAuth": []}])
def register_participant(data: dict[str, Any]) -> dict[str, Any]:
    """Register a participant; the answer holds their private calendar link."""
    user = authenticated_user()
    participant, token = create_participant(
        data, by_organizer=is_organizer(user), actor_id=user.id if user else None
    )
    db.session.commit()
    return {
        "id": participant.id,
        "ward": participant.ward,
        "target_group": participant.target_group,
        **subscribe_links(feed_url("p", token)),
    }


@blp.get("/participants/<int:participant_id>/export")
@user_required
@blp.response(200)
@blp.alt_response(404, schema=ErrorSchema, description="No such participant (or not yours)")
@blp.doc(security=[{"bearerAuth": []}])
def export_participant(participant_id: int) -> Response:
    """Everything held about a participant, as JSON (for them, or an organizer on their
    or their guardian's request)."""
    participant = records.get_participant(participant_id)
    records.require_owner_or_organizer(authenticated_user(), participant)
    response = jsonify(records.export(participant))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="participant-{participant.id}.json"'
    )
    return response


@blp.delete("/participants/<int:participant_id>")
@user_required
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="No such participant (or not yours)")
@blp.doc(security=[{"bearerAuth": []}])
def erase_participant(participant_id: int) -> tuple[str, int]:
    """Erase a participant's personal data; anonymous counts for progress stay."""
    participant = records.get_participant(participant_id)
    records.require_owner_or_organizer(authenticated_user(), participant)
    records.erase(participant)
    db.session.commit()
    return "", 204


def _staff_session(session_id: int) -> TrainingSession:
    session = attendance.get_open_session(session_id)
    attendance.require_recorder(authenticated_user(), session)
    return session


@blp.get("/sessions/<int:session_id>/attendance")
@user_required
@blp.response(200, RosterEntrySchema(many=True))
@blp.alt_response(404, schema=ErrorSchema, description="No such session (or not its lead)")
@blp.doc(security=[{"bearerAuth": []}])
def get_attendance(session_id: int) -> list[dict[str, Any]]:
    """The roster for the session's lead: first names, needs, attendance and levels."""
    return _roster(_staff_session(session_id))


def _roster(session: TrainingSession) -> list[dict[str, Any]]:
    return [
        {
            "registration_id": registration.id,
            "participant_id": participant.id,
            "first_name": first_name(participant.full_name),
            "accessibility_needs": participant.private.accessibility_needs
            if participant.private
            else [],
            "attended": registration.attended,
            "levels": recorded["levels"],
            "reached_basic": recorded["reached_basic"],
        }
        for registration, participant, recorded in attendance.roster(session)
    ]


@blp.put("/sessions/<int:session_id>/attendance")
@user_required
@blp.arguments(AttendanceSchema)
@blp.response(200, RosterEntrySchema(many=True))
@blp.alt_response(404, schema=ErrorSchema, description="No such session (or not its lead)")
@blp.alt_response(422, schema=ErrorSchema, description="An entry is invalid; nothing saved")
@blp.doc(security=[{"bearerAuth": []}])
def put_attendance(data: dict[str, Any], session_id: int) -> list[dict[str, Any]]:
    """Record who came, their level per competence area and whether they reached the
    basic standard (all entries or none)."""
    session = _staff_session(session_id)
    attendance.record(session, data["entries"], authenticated_user().id)
    db.session.commit()
    return _roster(session)


def _staff_sheet(session: TrainingSession) -> list[dict[str, Any]]:
    return [
        {
            "assignment_id": entry.assignment.id,
            "volunteer_id": entry.assignment.volunteer_id,
            "full_name": entry.full_name,
            "role": entry.role,
            "attendance": entry.assignment.attendance,
            "recorded_at": entry.assignment.attendance_recorded_at,
            "self_reported_at": entry.assignment.self_reported_at,
        }
        for entry in checkin.staff_roster(session)
    ]


@blp.get("/sessions/<int:session_id>/volunteer-attendance")
@user_required
@blp.response(200, VolunteerAttendanceSchema(many=True))
@blp.alt_response(404, schema=ErrorSchema, description="No such session (or not its lead)")
@blp.doc(security=[{"bearerAuth": []}])
def get_volunteer_attendance(session_id: int) -> list[dict[str, Any]]:
    """The session's confirmed bookings with the attendance recorded so far."""
    return _staff_sheet(_staff_session(session_id))


@blp.put("/sessions/<int:session_id>/volunteer-attendance")
@user_required
@blp.arguments(VolunteerAttendanceEntrySchema(many=True))
@blp.response(200, VolunteerAttendanceSchema(many=True))
@blp.alt_response(404, schema=ErrorSchema, description="No such session (or not its lead)")
@blp.alt_response(409, schema=ErrorSchema, description="Outside the check-in window")
@blp.alt_response(422, schema=ErrorSchema, description="An entry is invalid; nothing saved")
@blp.doc(security=[{"bearerAuth": []}])
def put_volunteer_attendance(data: list[dict[str, Any]], session_id: int) -> list[dict[str, Any]]:
    """Record per confirmed booking: attended, late, no_show or excused (the session's lead
    or an organizer; from CHECKIN_OPENS_HOURS before the start to CHECKIN_CLOSES_DAYS after
    the end, else 409; all entries or none)."""
    session = _staff_session(session_id)
    if len(data) > 500:
        raise Invalid(_("Too many entries (500 at most)."))
    checkin.record_volunteers(session, data, authenticated_user().id)
    db.session.commit()
    return _staff_sheet(session)


def first_name(full_name: str | None) -> str | None:
    """Vietnamese names end with the given name: 'Nguyễn Thị Lan' -> 'Lan'."""
    return full_name.split()[-1] if full_name else None
