"""The README's first start, as a fresh clone makes it: `scripts/run` on a new SQLite file
with the embedded Redis (its instance folder a temporary one), the web app and the RQ
worker writing side by side while people sign up. Their logs hold no traceback (once a
"database is locked" one), and stopping the script stops everything it started, the
embedded redis-server included."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WARDS = ROOT / "coordinator" / "data" / "wards_dong_da.json"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(url: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def processes_in(folder: Path) -> list[int]:
    """Live processes working in `folder` (the embedded redis-server's is the instance)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(os.readlink(f"/proc/{entry}/cwd")) == folder:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_a_first_start_on_sqlite_logs_no_traceback(tmp_path, volunteer_payload):
    instance = tmp_path / "instance"
    instance.mkdir()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "TEST_DATABASE_URL")
    }
    env.update(
        COORDINATOR_INSTANCE_PATH=str(instance),
        BIND=f"127.0.0.1:{port}",
        OUTBOX_SWEEP_INTERVAL_SECONDS="1",  # the worker's sweep writes while the web writes
    )
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while answer(f"{base}/healthz") != 200:
            assert run.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        # The operator imports the wards while both run (a third writer), then people
        # sign up: each sign-up writes in the web app and gives the worker an event.
        subprocess.run(  # noqa: S603 - our own CLI
            [str(ROOT / ".venv" / "bin" / "flask"), "import-wards", str(WARDS)],
            cwd=ROOT,
            env={**env, "FLASK_APP": "wsgi"},
            check=True,
            capture_output=True,
        )
        payload = {"password": "mat-khau-dai-12"}
        signed_up = [
            answer(f"{base}/api/v1/volunteers", {**volunteer_payload(), **payload})
            for _ in range(5)
        ]
        assert signed_up == [201] * 5, log_path.read_text()
        time.sleep(5)  # the worker handles the events, its sweep runs every second
        assert processes_in(instance), "no embedded redis-server in the instance folder"
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)
    output = log_path.read_text()
    assert "Traceback" not in output and "database is locked" not in output, output
    assert "process_event" in output  # the worker did handle the sign-ups' events
    deadline = time.monotonic() + 10
    while processes_in(instance) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_in(instance) == [], "scripts/run left the embedded redis-server running"
