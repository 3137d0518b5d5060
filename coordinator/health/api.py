"""GET /healthz: is the database reachable, is Redis reachable."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from coordinator.extensions import db, redis_connection

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


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
def healthz():
    """{"status","database","redis"}; 503 when a part is down."""
    database, cache = _database_ok(), _redis_ok()
    ok = database and cache
    body = {
        "status": "ok" if ok else "degraded",
        "database": "ok" if database else "down",
        "redis": "ok" if cache else "down",
    }
    return jsonify(body), 200 if ok else 503
