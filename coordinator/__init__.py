"""The Squads coordinator: create_app wires extensions, blueprints and commands."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask

from config import Config


def _instance_secret_key(instance_path: str) -> str:
    """SECRET_KEY from instance/secret_key, created on first run (never committed)."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: type | dict | None = None) -> Flask:
    """Build the app. `config` is a Config subclass or a dict of overrides."""
    app = Flask(
        __name__,
        instance_path=Config.INSTANCE_PATH,
        template_folder=str(Path(__file__).resolve().parent.parent / "templates"),
        static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    )
    app.json.ensure_ascii = False  # Vietnamese stays readable UTF-8 in JSON
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    # The app's modules are imported here, not at the top: importing one part of the
    # package (the matching engine in a benchmark, a job's module) must not load them all.
    from coordinator import errors, extensions, models  # noqa: F401 - models fill the metadata
    from coordinator.calendar import tokens as feed_tokens
    from coordinator.events import outbox
    from coordinator.people import auth

    extensions.db.init_app(app)
    # One unit of work per request, even where an app context outlives the request
    # (tests, the CLI): a request never inherits or leaves an open transaction.
    app.teardown_request(_end_unit_of_work)
    with app.app_context():
        if extensions.db.engine.dialect.name == "sqlite":
            from coordinator.database import configure_sqlite

            configure_sqlite(extensions.db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    extensions.migrate.init_app(
        app,
        extensions.db,
        directory=str(Path(__file__).resolve().parent.parent / "migrations"),
        render_as_batch=True,
    )
    extensions.redis_connection.init_app(app)
    auth.init_app(app)
    outbox.install_listeners()
    feed_tokens.install_listeners()
    _register_event_handlers(app)
    _register_api(app)
    errors.register_error_handlers(app)

    from coordinator import cli, rate_limits
    from coordinator.bookings import pages as bookings_pages
    from coordinator.calendar import log_scrub
    from coordinator.calendar import views as calendar_views
    from coordinator.geography import pages as geography_pages
    from coordinator.idempotency import replay
    from coordinator.imports import pages as imports_pages
    from coordinator.matching import pages as matching_pages
    from coordinator.notifications import pages as notification_pages
    from coordinator.notifications import webhooks as notification_webhooks
    from coordinator.participants import pages as participants_pages
    from coordinator.participants import way_back_pages
    from coordinator.people import admin_pages
    from coordinator.people import pages as people_pages
    from coordinator.progress import pages as progress_pages
    from coordinator.sessions import pages as sessions_pages
    from coordinator.squads import pages as squads_pages
    from coordinator.web import auth_pages, i18n, reset_pages, security_headers
    from coordinator.web import pages as home_pages

    i18n.init_app(app)
    extensions.csrf.init_app(app)
    # Each feature's pages are one blueprint (`bp`) in its folder; errors.PAGE_BLUEPRINTS
    # names them, so their errors are pages too.
    for pages in (
        home_pages,
        auth_pages,
        reset_pages,
        sessions_pages,
        bookings_pages,
        people_pages,
        matching_pages,
        participants_pages,
        way_back_pages,
        progress_pages,
        imports_pages,
        squads_pages,
        geography_pages,
        admin_pages,
    ):
        app.register_blueprint(pages.bp)
    app.register_blueprint(calendar_views.bp)
    extensions.csrf.exempt(calendar_views.bp)  # GET-only feeds, no cookies
    notification_pages.init_app(app)  # links in mails; the token in the URL is the credential
    notification_webhooks.init_app(app)  # providers' delivery reports, checked by signature
    log_scrub.install()  # private feed tokens never reach a log line
    security_headers.init_app(app)  # CSP on pages, nosniff, Referrer-Policy, HSTS on https
    cli.init_app(app)
    rate_limits.init_app(app)  # wraps views, so after every blueprint
    replay.init_app(app)  # after CSRF and the API's body checks: they refuse first
    return app


def _register_api(app: Flask) -> None:
    from coordinator.bookings.api import blp as bookings
    from coordinator.calendar.api import blp as calendar
    from coordinator.competences.api import blp as competences
    from coordinator.extensions import Api, csrf
    from coordinator.geography.api import blp as wards
    from coordinator.geography.api import provinces_blp as provinces
    from coordinator.health.api import bp as health
    from coordinator.imports.api import blp as imports
    from coordinator.matching.api import blp as matching
    from coordinator.notifications.api import blp as notifications
    from coordinator.participants.api import blp as participants
    from coordinator.people.api import blp as people
    from coordinator.progress.api import blp as progress
    from coordinator.sessions.api import blp as sessions
    from coordinator.squads.api import blp as squads
    from coordinator.vocabularies.api import blp as vocabularies
    from coordinator.web.api_guard import reject_out_of_range_ids, require_json_bodies

    app.before_request(require_json_bodies)
    app.before_request(reject_out_of_range_ids)
    api = Api(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}
        },
    )
    for blueprint in (
        people,
        provinces,
        wards,
        competences,
        vocabularies,
        squads,
        sessions,
        bookings,
        calendar,
        participants,
        matching,
        progress,
        imports,
        notifications,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens only: a cookie never authenticates the API
    api.register_blueprint(health)
    csrf.exempt(health)


def _register_event_handlers(app: Flask) -> None:
    from coordinator.bookings import handlers as bookings
    from coordinator.calendar import handlers as calendar
    from coordinator.events import dispatch
    from coordinator.imports import handlers as imports
    from coordinator.matching import handlers as matching
    from coordinator.notifications import handlers as notifications
    from coordinator.participants import handlers as participants
    from coordinator.people import handlers as people

    dispatch.init_app(
        app, calendar, matching, notifications, imports, bookings, people, participants
    )


def _end_unit_of_work(_error: BaseException | None) -> None:
    """Close the request's database session. Its rollback can fail when the database
    went away mid-request; the answer is already made (a clean 503), so log it rather
    than let the server replace the answer with its own 500 page."""
    from coordinator.extensions import db

    try:
        db.session.remove()
    except Exception:
        logging.getLogger(__name__).warning("closing the database session failed", exc_info=True)
