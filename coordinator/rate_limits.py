"""Rate limits on the doors people guess at: logins, token creation, the password change
page, self sign-up and private feed tokens. Flask-Limiter counts on the app's own Redis,
so gunicorn workers and machines share one count; while Redis is down each process
counts in memory instead (the sign-up itself must not fail because the counter is away).
"""

from __future__ import annotations

import redis
from flask import Flask, request
from flask_limiter import Limiter
from limits import parse_many

from coordinator.calendar import views as calendar_views
from coordinator.people.auth import authenticated_user, is_organizer
from coordinator.redis_connection import EmbeddedRedisConnection

# As the app's own client: a Redis that is away costs a request 2 s, not minutes.
TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 10}


def storage(app: Flask) -> tuple[str, dict[str, object]]:
    """limits' Redis storage URI and options for the app's Redis. Without REDIS_URL the
    embedded server starts on first use, so its pool connects through it when the
    limiter first counts (limits takes a ready `connection_pool` as an option)."""
    url = app.config.get("REDIS_URL")
    if url:
        return url.replace("unix://", "redis+unix://", 1), dict(TIMEOUTS)
    pool = redis.ConnectionPool(connection_class=EmbeddedRedisConnection, app=app, **TIMEOUTS)
    return "redis://", {"connection_pool": pool}


def client_address() -> str:
    """The caller's address (ProxyFix has already applied TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


def _organizer_calling() -> bool:
    return is_organizer(authenticated_user())


def _valid_feed_token() -> bool:
    """A private feed fetched with a live token is never limited: calendar services fetch
    for many people from one address, and only misses are guesses."""
    args = request.view_args or {}
    kind = "v" if request.endpoint == "calendar.volunteer_feed" else "p"
    return "token" in args and calendar_views.feed_owner(kind, args["token"]) is not None


# endpoint -> (config key of the limit, options). Only POSTs count on pages that also show
# a form; on private feeds only misses count, and only misses are refused (a subscriber
# fetching often, or many behind one address, is fine).
LIMITED_ENDPOINTS = {
    "people.create_token": ("RATE_LIMIT_LOGIN", {}),
    "auth.login": ("RATE_LIMIT_LOGIN", {"methods": ["POST"]}),
    # The current password is checked there: a borrowed session must not guess it freely.
    "auth.password": ("RATE_LIMIT_LOGIN", {"methods": ["POST"]}),
    # Each request sends a mail: a script must not flood someone's inbox.
    "password_reset.forgot": ("RATE_LIMIT_LOGIN", {"methods": ["POST"]}),
    "registration_pages.find": ("RATE_LIMIT_LOGIN", {"methods": ["POST"]}),
    "people.create_volunteer": ("RATE_LIMIT_SIGNUP", {"exempt_when": _organizer_calling}),
    "auth.register": ("RATE_LIMIT_SIGNUP", {"methods": ["POST"]}),
    "participants.register_participant": (
        "RATE_LIMIT_SIGNUP",
        {"exempt_when": _organizer_calling},
    ),
    "participants_pages.register": ("RATE_LIMIT_SIGNUP", {"methods": ["POST"]}),
    "calendar.volunteer_feed": ("RATE_LIMIT_FEED_MISSES", {"exempt_when": _valid_feed_token}),
    "calendar.participant_feed": ("RATE_LIMIT_FEED_MISSES", {"exempt_when": _valid_feed_token}),
}


def init_app(app: Flask) -> None:
    """One limiter per app (it holds its storage); call after the blueprints exist."""
    storage_uri, storage_options = storage(app)
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="moving-window",
        headers_enabled=True,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.init_app(app)
    if not limiter.enabled:
        return
    for config_key, _options in LIMITED_ENDPOINTS.values():
        try:
            parse_many(app.config[config_key])
        except ValueError as error:
            raise RuntimeError(f"{config_key} is not a rate limit: {error}") from None
    for endpoint, (config_key, options) in LIMITED_ENDPOINTS.items():
        # Shared per config key: a guesser gains nothing by alternating the login page
        # and the token API.
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.shared_limit(
            app.config[config_key], scope=config_key.lower(), **options
        )(view)
