"""GET /healthz: is the database reachable, is Redis reachable."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, jsonify
from marshmallow import fields

from coordinator.extensions import Blueprint, db, redis_connection
from coordinator.schemas import Schema

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__, description="Liveness of the service and its parts")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})
    redis = fields.String(required=True, metadata={"example": "ok"})


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
    """{"status","database","redis"}; 503 when a part is down."""
    database, cache = _database_ok(), _redis_ok()
    ok = database and cache
    body = {
        "status": "ok" if ok else "degraded",
        "database": "ok" if database else "down",
        "redis": "ok" if cache else "down",
    }
    return jsonify(body), 200 if ok else 503
