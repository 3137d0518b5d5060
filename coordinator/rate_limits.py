"""Rate limits on the doors people guess at: logins, token creation, self sign-up and
private feed tokens. Flask-Limiter counts on the app's own Redis, so gunicorn workers and
machines share one count; while Redis is down each process counts in memory instead
(the sign-up itself must not fail because the counter is away).
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import RedisStorage, Storage

from coordinator.people.auth import authenticated_user, is_organizer


class AppRedisStorage(RedisStorage):
    """limits' Redis storage on the app's Redis connection, connected on first use.

    Without REDIS_URL the embedded server starts on first use, not in the app factory,
    so the URL is unknown when the limiter is built; this storage asks for the client
    (and registers its Lua scripts) the first time it counts.
    """

    STORAGE_SCHEME = ["squads+app"]

    def __init__(self, uri: str, app: Flask, **options) -> None:
        Storage.__init__(self, uri, **options)
        self.key_prefix = self.PREFIX
        self.target_server = "redis"
        self.dependency = self.dependencies["redis"].module
        self._app = app
        self._client = None

    def get_connection(self, readonly: bool = False):
        if self._client is None:
            self._client = self._app.extensions["redis_connection"].client_for(self._app)
            self.initialize_storage("")  # binds the Lua scripts to this client
        return self._client

    def __getattr__(self, name: str):
        # The scripts (lua_*) exist once connected; connect when one is first wanted.
        if name.startswith("lua_") and self.__dict__.get("_client") is None:
            self.get_connection()
            return getattr(self, name)
        raise AttributeError(name)


def client_address() -> str:
    """The caller's address (ProxyFix has already applied TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


def _organizer_calling() -> bool:
    return is_organizer(authenticated_user())


def _not_found(response) -> bool:
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
    "participants_pages.register": ("RATE_LIMIT_SIGNUP", {"methods": ["POST"]}),
    "calendar.volunteer_feed": ("RATE_LIMIT_FEED_MISSES", {"deduct_when": _not_found}),
    "calendar.participant_feed": ("RATE_LIMIT_FEED_MISSES", {"deduct_when": _not_found}),
}


def init_app(app: Flask) -> None:
    """One limiter per app (it holds its storage); call after the blueprints exist."""
    limiter = Limiter(
        key_func=client_address,
        storage_uri="squads+app://",
        storage_options={"app": app},
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
