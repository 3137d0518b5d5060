"""Training sessions: /api/v1/sessions."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint

from coordinator.extensions import db
from coordinator.people.auth import authenticated_user, is_organizer, require_role
from coordinator.sessions import operations
from coordinator.sessions.schemas import (
    CancelSchema,
    SessionCreateSchema,
    SessionListArgs,
    SessionPublicSchema,
    SessionSchema,
    SessionUpdateSchema,
)

blp = Blueprint(
    "sessions", __name__, url_prefix="/api/v1/sessions", description="Training sessions"
)
BEARER = [{"bearerAuth": []}]


def _schema(many: bool = False):
    return (
        SessionSchema(many=many)
        if is_organizer(authenticated_user())
        else SessionPublicSchema(many=many)
    )


@blp.post("")
@blp.arguments(SessionCreateSchema)
@blp.response(201, SessionSchema)
@blp.doc(security=BEARER)
def create_session(data):
    """Publish a session, or a weekly series of them (organizers)."""
    user = require_role("organizer")
    sessions = operations.create_sessions(data, organizer_id=user.id)
    db.session.commit()
    body = SessionSchema().dump(sessions[0])
    if len(sessions) > 1:
        body["series_session_ids"] = [s.id for s in sessions]
    return jsonify(body), 201


@blp.get("")
@blp.arguments(SessionListArgs, location="query")
@blp.response(200, SessionPublicSchema(many=True))
def list_sessions(args):
    """Sessions by ward, time window, target group and status. Total in X-Total-Count."""
    rows, total = operations.list_sessions(args)
    return jsonify(_schema(many=True).dump(rows)), 200, {"X-Total-Count": str(total)}


@blp.get("/<int:session_id>")
@blp.response(200, SessionPublicSchema)
def get_session(session_id):
    """One session (public fields; more for organizers)."""
    return jsonify(_schema().dump(operations.get_session(session_id)))


@blp.patch("/<int:session_id>")
@blp.arguments(SessionUpdateSchema)
@blp.response(200, SessionSchema)
@blp.doc(security=BEARER)
def update_session(changes, session_id):
    """Reschedule or edit a session (organizers)."""
    require_role("organizer")
    session = operations.update_session(operations.get_session(session_id), changes)
    db.session.commit()
    return session


@blp.post("/<int:session_id>/cancel")
@blp.arguments(CancelSchema)
@blp.response(200, SessionSchema)
@blp.doc(security=BEARER)
def cancel_session(data, session_id):
    """Cancel a session with a reason (organizers)."""
    require_role("organizer")
    session = operations.cancel_session(operations.get_session(session_id), data["reason"])
    db.session.commit()
    return session
