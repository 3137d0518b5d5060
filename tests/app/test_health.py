"""/healthz tells which part is down, with 503, and never a stack trace."""

from __future__ import annotations

from coordinator import create_app


def test_healthz_reports_both_parts_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_when_redis_is_down(app, client):
    app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    app.extensions.pop("redis_client", None)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "degraded", "database": "ok", "redis": "down"}


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
