"""Security headers: a strict CSP on pages (and templates that need nothing looser), nosniff
and a Referrer-Policy everywhere, HSTS only over https (a proxy believed only when
TRUSTED_PROXIES says so)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coordinator import create_app
from coordinator.extensions import db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def csp(response) -> dict[str, str]:
    """The policy's directives: {"script-src": "'self'", ...}."""
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";"))


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/no-such-page"])
def test_pages_get_a_strict_policy(client, wards, path):
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.mimetype == "text/html"
    directives = csp(page)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_page_that_sets_no_referrer_keeps_it(client, wards):
    page = client.get("/notifications/answer/not-a-real-token/accept")
    assert page.mimetype == "text/html"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_api_answers_get_nosniff(client, wards):
    for response in (client.get("/api/v1/wards"), client.get("/api/v1/sessions/4242")):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_get_nosniff_with_their_real_type(client):
    script = client.get("/static/run-progress.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    script.close()


def test_no_hsts_over_http(client, wards):
    assert "Strict-Transport-Security" not in client.get("/").headers
    # A client's own X-Forwarded-Proto is not believed without TRUSTED_PROXIES.
    claimed = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in claimed.headers


def test_hsts_over_https(app, wards):
    secure = app.test_client().get("/", base_url="https://localhost")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_behind_a_trusted_proxy(app):
    proxied = create_app(
        {
            **{key: app.config[key] for key in ("TESTING", "SECRET_KEY", "REDIS_URL")},
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "TRUSTED_PROXIES": 1,
        }
    )
    client = proxied.test_client()
    forwarded = client.get("/static/squads.css", headers={"X-Forwarded-Proto": "https"})
    assert forwarded.headers["Strict-Transport-Security"] == "max-age=31536000"
    forwarded.close()
    plain = client.get("/static/squads.css")
    assert "Strict-Transport-Security" not in plain.headers
    plain.close()
    with proxied.app_context():
        db.engine.dispose()


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_page_templates_need_nothing_the_policy_forbids():
    """Mail templates are read in mail clients, not under this policy."""
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        if path.parent.name != "email"
        for pattern, what in INLINE
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
