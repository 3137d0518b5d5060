"""Training sessions: /api/v1/sessions."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.paging import PAGE_HEADERS, page_headers
from coordinator.people.auth import authenticated_user, is_organizer, roles_required
from coordinator.sessions import operations
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.schemas import (
    CancelSchema,
    SessionCreatedSchema,
    SessionCreateSchema,
    SessionListArgs,
    SessionPublicSchema,
    SessionSchema,
    SessionUpdateSchema,
    dump_public_sessions,
)

blp = Blueprint(
    "sessions", __name__, url_prefix="/api/v1/sessions", description="Training sessions"
)
BEARER = [{"bearerAuth": []}]
# Who may write is checked before the body is read: a stranger learns nothing from it.
organizers_only = roles_required("organizer")


def _error(status: int, description: str):
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _schema(many: bool = False) -> SessionSchema | SessionPublicSchema:
    return (
        SessionSchema(many=many)
        if is_organizer(authenticated_user())
        else SessionPublicSchema(many=many)
    )


@blp.post("")
@organizers_only
@blp.arguments(SessionCreateSchema)
@blp.response(201, SessionCreatedSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@blp.doc(security=BEARER)
def create_session(data: dict[str, Any]) -> tuple[Response, int]:
    """Publish a session, or a weekly series of them (organizers)."""
    sessions = operations.create_sessions(data, organizer_id=authenticated_user().id)
    db.session.commit()
    body = SessionCreatedSchema().dump(sessions[0])
    if len(sessions) > 1:
        body["series_session_ids"] = [s.id for s in sessions]
    return jsonify(body), 201


@blp.get("")
@blp.arguments(SessionListArgs, location="query")
@blp.response(200, SessionPublicSchema(many=True), headers=PAGE_HEADERS)
def list_sessions(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """Sessions by ward, time window, target group and status. By start, a page at a time:
    the total in X-Total-Count, the next page in Link."""
    rows, total = operations.list_sessions(args)
    headers = page_headers(total, args["limit"], args["offset"])
    if is_organizer(authenticated_user()):
        return jsonify(SessionSchema(many=True).dump(rows)), 200, headers
    return jsonify(dump_public_sessions(rows)), 200, headers


@blp.get("/<int:session_id>")
@blp.response(200, SessionPublicSchema)
@_error(404, "No such session")
def get_session(session_id: int) -> Response:
    """One session (public fields; more for organizers)."""
    return jsonify(_schema().dump(operations.get_session(session_id)))


@blp.patch("/<int:session_id>")
@organizers_only
@blp.arguments(SessionUpdateSchema)
@blp.response(200, SessionSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@_error(404, "No such session")
@_error(409, "Cancelled or over, or below confirmed bookings")
@blp.doc(security=BEARER)
def update_session(changes: dict[str, Any], session_id: int) -> TrainingSession:
    """Reschedule or edit a session (organizers)."""
    session = operations.update_session(operations.get_session(session_id), changes)
    db.session.commit()
    return session


@blp.post("/<int:session_id>/cancel")
@organizers_only
@blp.arguments(CancelSchema)
@blp.response(200, SessionSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@_error(404, "No such session")
@_error(409, "Already cancelled or over")
@blp.doc(security=BEARER)
def cancel_session(data: dict[str, Any], session_id: int) -> TrainingSession:
    """Cancel a session with a reason (organizers): its bookings, proposals, waitlists and
    registrations end `cancelled`; `scope: rest_of_series` cancels the later sessions of
    its weekly series too. There is no un-cancelling."""
    session = operations.cancel_session(
        operations.get_session(session_id),
        data["reason"],
        operations.CancelScope(data["scope"]),
    )
    db.session.commit()
    return session
