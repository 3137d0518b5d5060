"""Markers planted in a participant's needs, contacts and name travel the whole way (API,
events, a real forking worker, notifications, matching) and must surface nowhere they do
not belong: no log line (app or worker), no RQ job argument, description, metadata or
result, no public page or feed, no API answer to a role that may not see them."""

from __future__ import annotations

import json
import logging
import pickle  # nosec B403 - reads back what our own jobs stored in the test's Redis
import zlib
from datetime import timedelta

import pytest

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.vocabularies.models import VocabularyTerm
from tests.jobs.fault_helpers import WorkerProcess, worker_env
from tests.notifications.notification_helpers import session_starting, sign_up

NEED = "markerneed7c1e"  # an admin-added need code: it appears only where needs are shown
CONTACT = "marker.contact.7c1e@example.vn"
GUARDIAN = "marker-guardian-7c1e@example.vn"
NAME = "Markername Họ Bảy"
PHONE = "0987 654 021"  # a second participant's own contact: messaged by Zalo, then SMS
MARKERS = (NEED, CONTACT, GUARDIAN, "Markername", "987654021", "987 654 021")


def redis_contents(client) -> str:
    """Everything in Redis as text, RQ's compressed and pickled job fields opened up:
    arguments (`data`), `meta`, `description`, `exc_info` and results."""
    parts = []
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"hash":
            values = client.hgetall(key).items()
        elif kind == b"string":
            values = [(b"", client.get(key))]
        elif kind == b"list":
            values = [(b"", v) for v in client.lrange(key, 0, -1)]
        elif kind in (b"zset", b"set"):
            members = client.zrange(key, 0, -1) if kind == b"zset" else client.smembers(key)
            values = [(b"", v) for v in members]
        else:  # streams (RQ's results): their entries' fields
            values = [
                (field, value)
                for _id, entry in client.xrange(key)
                for field, value in entry.items()
            ]
        parts.append(key.decode(errors="replace"))
        parts.extend(f"{field!r}={_opened(value)}" for field, value in values)
    return "\n".join(parts)


def _opened(value: bytes) -> str:
    for attempt in (lambda v: pickle.loads(zlib.decompress(v)), pickle.loads, zlib.decompress):  # nosec B301
        try:
            return repr(attempt(value)) + " " + value.decode(errors="replace")
        except Exception:  # not that encoding: try the next
            continue
    return value.decode(errors="replace")


def _visible(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


@pytest.fixture
def providers(app):
    """Zalo and eSMS answering on loopback, so the worker sends by phone too."""
    from tests.notifications.provider_servers import provider_servers

    yield from provider_servers(app)


@pytest.mark.slow
def test_planted_markers_stay_out_of_logs_jobs_public_pages_and_strangers_answers(
    app,
    client,
    make_session,
    make_volunteer,
    organizer_headers,
    redis_client,
    tmp_path,
    caplog,
    providers,
):
    caplog.set_level(logging.DEBUG)
    app.config["QUIET_HOURS"] = "00:00-00:00"  # none: whatever the hour the test runs at
    providers.no_zalo.add("84987654021")  # Zalo says no account: SMS
    db.session.add(VocabularyTerm(vocabulary="accessibility_skills", code=NEED, label="Cần X"))
    db.session.commit()
    session = session_starting(make_session, utcnow() + timedelta(days=3))
    lead_id, lead_headers = make_volunteer(is_expert=True)
    sign_up(client, session["id"], lead_headers, role="lead")
    _, stranger_headers = make_volunteer()

    created = client.post(
        "/api/v1/participants",
        json={
            "full_name": NAME,
            "ward": "kim_lien",
            "target_group": "youth_disabilities",
            "accessibility_needs": [NEED],
            "contact": CONTACT,
            "guardian_contact": GUARDIAN,
            "consent": True,
        },
    )
    assert created.status_code == 201
    assert not _visible(created.get_data(as_text=True))
    registration = client.post(
        f"/api/v1/sessions/{session['id']}/registrations",
        json={"participant_id": created.json["id"]},
        headers=organizer_headers,
    )
    assert registration.status_code == 201
    by_phone = client.post(
        "/api/v1/participants",
        json={
            "full_name": "Markername Tám",
            "ward": "kim_lien",
            "target_group": "residents",
            "accessibility_needs": [NEED],
            "contact": PHONE,
        },
        headers=organizer_headers,
    )
    assert by_phone.status_code == 201 and not _visible(by_phone.get_data(as_text=True))
    assert (
        client.post(
            f"/api/v1/sessions/{session['id']}/registrations",
            json={"participant_id": by_phone.json["id"]},
            headers=organizer_headers,
        ).status_code
        == 201
    )
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"venue": "Nhà văn hóa tổ 5"},
        headers=organizer_headers,
    )
    assert moved.status_code == 200, moved.json  # notices go out now, to her guardian too
    run = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    assert run.status_code == 202

    # A real forking worker, configured as in production, works every queue dry.
    db.session.remove()
    worker = WorkerProcess(worker_env(app, tmp_path), tmp_path / "worker.log", burst=True)
    assert worker.process.wait(timeout=120) == 0, worker.log()
    worker_log = worker.log()
    assert "processed event" in worker_log and "matching" in worker_log  # it did the work
    mail = [path.read_text() for path in (tmp_path / "worker-outbox").iterdir()]
    assert any(f"<{GUARDIAN}>" in message for message in mail)  # her notice of the move
    # The other one's notice went by phone: Zalo had no account, so SMS; the providers
    # got the number (that is their job) and nothing else of hers.
    assert [r["phone"] for r in providers.zns_requests] == ["84987654021"]
    [sms] = providers.sms_requests
    assert sms["Phone"] == "0987654021" and not _visible(sms["Content"])
    assert not _visible(json.dumps(providers.zns_requests[0]["template_data"]))

    # The staff who need to know do: the lead sees the need on the session's roster.
    roster = client.get(f"/api/v1/sessions/{session['id']}/attendance", headers=lead_headers)
    assert roster.status_code == 200 and NEED in roster.get_data(as_text=True)

    stored = redis_contents(redis_client)
    assert "evt-" in stored and "ntf-" in stored  # the jobs are there to be read
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    public = {
        "session page": client.get(f"/sessions/{session['id']}"),
        "ward page": client.get("/wards/kim_lien"),
        "ward feed": client.get("/calendar/wards/kim_lien.ics"),
        "session API, anonymous": client.get(f"/api/v1/sessions/{session['id']}"),
        "session API, another volunteer": client.get(
            f"/api/v1/sessions/{session['id']}", headers=stranger_headers
        ),
        "roster, another volunteer": client.get(
            f"/api/v1/sessions/{session['id']}/attendance", headers=stranger_headers
        ),
    }
    for where, response in public.items():
        assert response.status_code in (200, 403, 404), where
        assert not _visible(response.get_data(as_text=True)), where
    assert not _visible(stored), "Redis"
    assert not _visible(worker_log), "worker log"
    assert not _visible(logged), "app log"


def test_the_scan_sees_into_job_arguments_and_metadata(redis_client):
    """The scan above could pass by not looking: RQ compresses and pickles arguments."""
    from rq import Queue

    job = Queue("scratch", connection=redis_client).enqueue(print, CONTACT, description="x")
    assert CONTACT not in str(redis_client.hgetall(job.key))  # not visible as stored...
    assert CONTACT in redis_contents(redis_client)  # ...but the scan opens it
    job.delete()
    job = Queue("scratch", connection=redis_client).enqueue(print, 1, description="x")
    job.meta["progress"] = {"who": GUARDIAN}
    job.save_meta()
    assert GUARDIAN in redis_contents(redis_client)
