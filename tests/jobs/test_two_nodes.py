"""Two app nodes and two workers on one database and one Redis (docs/scaling.md): two
gunicorn processes on different ports and two `flask worker` processes, configured only
through the environment. Sign-ups through both nodes at once never overfill a role,
every event is handled once by one of the workers, and a change made through one node
reaches the feeds served by the other."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications.models import Notification
from tests.conftest import PASSWORD
from tests.jobs.fault_helpers import ROOT, WorkerProcess, wait_for, worker_env

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """`gunicorn wsgi:app` with one sync worker on a port of its own."""

    def __init__(self, env: dict, log_path):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind",
             f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def answers() -> bool:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True  # up, only unhealthy
            except OSError:
                return False

        wait_for(answers, 60, f"gunicorn on {self.port}")

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        status, _, raw = self.call(method, path, body, headers)
        return status, json.loads(raw) if raw else {}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _token(node: Node, user) -> dict:
    status, body = node.json(
        "POST", "/api/v1/auth/tokens", {"email": user.email, "password": PASSWORD}
    )
    assert status == 201, body
    return {"Authorization": f"Bearer {body['token']}"}


def test_two_nodes_and_two_workers_stay_correct(
    app, make_user, volunteer_payload, session_payload, wards, competences, tmp_path
):
    env = {
        **os.environ,
        **worker_env(app, tmp_path),
        "OUTBOX_SWEEP_MIN_AGE_SECONDS": "0",
        "RATELIMIT_ENABLED": "false",  # every client here is 127.0.0.1
    }
    nodes = [Node(env, tmp_path / f"node{n}.log") for n in (1, 2)]
    workers = [WorkerProcess(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        a, b = nodes
        organizer = _token(a, make_user("organizer"))
        status, session = a.json(
            "POST",
            "/api/v1/sessions",
            session_payload(
                title="Dịch vụ công trực tuyến",
                roles=[{"role": "helper", "count": 2, "required_skills": []}],
            ),
            organizer,
        )
        assert status == 201, session
        feed = "/calendar/wards/kim_lien.ics"
        assert "Dịch vụ công trực tuyến" in b.call("GET", feed)[2].decode()

        # Six volunteers, three through each node, sign up at once for two seats.
        people = []
        for n in range(6):
            node = nodes[n % 2]
            payload = {**volunteer_payload(), "password": PASSWORD}
            status, body = node.json("POST", "/api/v1/volunteers", payload)
            assert status == 201, body
            token = node.json(
                "POST",
                "/api/v1/auth/tokens",
                {"email": payload["email"], "password": PASSWORD},
            )[1]["token"]
            people.append((node, {"Authorization": f"Bearer {token}"}))

        def sign_up(person):
            node, headers = person
            return node.json(
                "POST", f"/api/v1/sessions/{session['id']}/signups", {"role": "helper"}, headers
            )

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(sign_up, people))
        statuses = sorted(body.get("status", str(code)) for code, body in answers)
        assert statuses.count("confirmed") == 2, answers
        assert all(s in ("confirmed", "waitlisted") for s in statuses), answers

        # A rename through node B reaches node A's feed once a worker handled it.
        status, _ = b.json(
            "PATCH",
            f"/api/v1/sessions/{session['id']}",
            {"title": "Kỹ năng số cho người cao tuổi"},
            organizer,
        )
        assert status == 200
        wait_for(
            lambda: "Kỹ năng số cho người cao tuổi" in a.call("GET", feed)[2].decode(),
            30,
            "the rename to reach the other node's feed",
        )
        # A volunteer's private feed, linked on one node, is served by the other.
        confirmed_person = next(
            person for person, (_, body) in zip(people, answers, strict=True)
            if body.get("status") == "confirmed"
        )  # fmt: skip
        status, link = confirmed_person[0].json(
            "POST", "/api/v1/me/feed-token", None, confirmed_person[1]
        )
        assert status == 201, link
        other = b if confirmed_person[0] is a else a
        path = "/" + link["feed_url"].split("/", 3)[3]
        status, headers, body = other.call("GET", path, headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"

        def all_processed() -> bool:
            try:  # and let go at once: on SQLite a transaction here holds the write lock
                return not db.session.scalar(
                    sa.select(sa.func.count(DomainEvent.id)).where(
                        DomainEvent.processed_at.is_(None)
                    )
                )
            finally:
                db.session.rollback()

        try:
            wait_for(all_processed, 90, "both workers to handle every event")
        except AssertionError:
            left = db.session.execute(
                sa.select(DomainEvent.id, DomainEvent.type, DomainEvent.enqueued_at).where(
                    DomainEvent.processed_at.is_(None)
                )
            ).all()
            raise AssertionError(f"{left}\n{workers[0].log()[-3000:]}") from None
        db.session.rollback()
        seats = db.session.scalars(
            sa.select(Assignment.status).where(Assignment.session_id == session["id"])
        ).all()
        assert sorted(seats).count("confirmed") == 2
        keys = db.session.scalars(sa.select(Notification.dedup_key)).all()
        assert len(keys) == len(set(keys))  # each notice planned once, by one worker
        logs = "".join(w.log() for w in workers)
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        for worker in workers:
            worker.stop()
        for node in nodes:
            node.stop()
