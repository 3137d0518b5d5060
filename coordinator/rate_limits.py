"""Rate limits on the doors people guess at: logins, token creation, self sign-up and
private feed tokens. Flask-Limiter counts in the app's Redis (REDIS_URL), so gunicorn
workers and machines share one count; while Redis is down each process counts in memory
instead (the sign-up itself must not fail because the counter is away). Without
REDIS_URL (the embedded Redis of a one-machine setup, started on first use) each process
counts in memory.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from limits import parse_many

from coordinator.people.auth import authenticated_user, is_organizer


def storage_uri(redis_url: str | None) -> str:
    """limits' storage URI for the app's Redis URL (limits spells sockets redis+unix)."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def client_address() -> str:
    """The caller's address (ProxyFix has already applied TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


def _organizer_calling() -> bool:
    return is_organizer(authenticated_user())


def _not_found(response: Response) -> bool:
    return response.status_code == 404


# endpoint -> (config key of the limit, options). Only POSTs count on pages that also show
# a form, and only misses count on private feeds (a subscriber fetching often is fine).
LIMITED_ENDPOINTS = {
    "people.create_token": ("RATE_LIMIT_LOGIN", {}),
    "auth.login": ("RATE_LIMIT_LOGIN", {"methods": ["POST"]}),
    "people.create_volunteer": ("RATE_LIMIT_SIGNUP", {"exempt_when": _organizer_calling}),
    "auth.register": ("RATE_LIMIT_SIGNUP", {"methods": ["POST"]}),
    "participants.register_participant": (
        "RATE_LIMIT_SIGNUP",
        {"exempt_when": _organizer_calling},
    ),
    "participate.register": ("RATE_LIMIT_SIGNUP", {"methods": ["POST"]}),
    "calendar.volunteer_feed": ("RATE_LIMIT_FEED_MISSES", {"deduct_when": _not_found}),
    "calendar.participant_feed": ("RATE_LIMIT_FEED_MISSES", {"deduct_when": _not_found}),
}


def init_app(app: Flask) -> None:
    """One limiter per app (it holds its storage); call after the blueprints exist."""
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage_uri(app.config.get("REDIS_URL")),
        # As the app's own client: a Redis that is away costs a request 2 s, not minutes.
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 10},
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
