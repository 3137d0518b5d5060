"""GET /healthz: is the database reachable, is Redis reachable, are events late."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, jsonify
from marshmallow import fields

from coordinator.events import relay
from coordinator.extensions import Blueprint, db, redis_connection
from coordinator.schemas import Schema

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__, description="Liveness of the service and its parts")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})
    redis = fields.String(required=True, metadata={"example": "ok"})
    events = fields.String(
        metadata={
            "example": "ok",
            "description": "`late` when committed events wait unprocessed over 10 minutes "
            "(workers down or stuck); the count is in `late_events`",
        }
    )
    late_events = fields.Integer(metadata={"example": 0})


def _database_ok() -> bool:
    try:
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        return True
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("health: database down: %s", type(exc).__name__)
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis_connection.client.ping())
    except Exception as exc:  # a failed embedded start is "down" too, not a 500
        log.warning("health: redis down: %s", type(exc).__name__)
        return False


@bp.get("/healthz")
@bp.response(200, HealthSchema)
@bp.alt_response(503, schema=HealthSchema, description="A part is down")
def healthz() -> tuple[Response, int]:
    """{"status","database","redis","events"}; 503 when a part is down."""
    database, cache = _database_ok(), _redis_ok()
    ok = database and cache
    body: dict[str, str | int] = {
        "status": "ok" if ok else "degraded",
        "database": "ok" if database else "down",
        "redis": "ok" if cache else "down",
    }
    if database:
        # Late events are a detail, not a part down: the service still takes changes.
        late = _late_events()
        body["events"] = "late" if late else "ok"
        body["late_events"] = late
    return jsonify(body), 200 if ok else 503


def _late_events() -> int:
    try:
        return relay.late_events()
    except sa.exc.SQLAlchemyError:
        return 0
