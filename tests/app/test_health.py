"""/healthz tells which part is down, with 503, and never a stack trace."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import OperationalError

from coordinator import create_app
from coordinator.database import utcnow
from coordinator.events import outbox
from coordinator.extensions import db

OK = {"status": "ok", "database": "ok", "redis": "ok", "events": "ok", "late_events": 0}


def test_healthz_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == OK


def test_healthz_names_events_waiting_over_ten_minutes(app, client):
    app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False
    for minutes_ago in (11, 30, 9):
        event = outbox.record("squad.changed", "squad", 1, {})
        db.session.flush()
        event.occurred_at = utcnow() - timedelta(minutes=minutes_ago)
    processed = outbox.record("squad.changed", "squad", 1, {})
    db.session.flush()
    processed.occurred_at, processed.processed_at = utcnow() - timedelta(hours=1), utcnow()
    db.session.commit()

    response = client.get("/healthz")
    assert response.status_code == 200  # late work is not a part down
    assert response.json == {**OK, "events": "late", "late_events": 2}


def test_healthz_is_503_when_redis_is_down(app, client):
    app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    app.extensions.pop("redis_client", None)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {**OK, "status": "degraded", "redis": "down"}


def test_healthz_is_503_when_the_database_is_down(app, tmp_path):
    broken = create_app(
        {
            **{k: app.config[k] for k in ("SECRET_KEY", "REDIS_URL")},
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:9/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 1}},
        }
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "degraded", "database": "down", "redis": "ok"}


def test_api_request_while_the_database_is_down_is_a_clean_503(app):
    broken = create_app(
        {
            "SECRET_KEY": "x",
            "REDIS_URL": app.config["REDIS_URL"],
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:9/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 1}},
        }
    )
    response = broken.test_client().get("/api/v1/wards")
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"


def test_closing_a_broken_database_session_does_not_replace_the_answer(client, monkeypatch):
    """PostgreSQL restarting under a request: the rollback at the end of the request
    fails; the request's own answer still goes out (not the server's 500 page)."""

    def broken_remove() -> None:
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "remove", broken_remove)
    response = client.get("/api/v1/wards")
    assert response.status_code == 200
