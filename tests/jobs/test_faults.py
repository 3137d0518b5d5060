"""Faults injected into real services: a worker SIGKILLed in the middle of a job, Redis
stopped while volunteers sign up. Workers are `flask worker` subprocesses configured
by environment only, with the production timings (nothing shortened for the test)."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import redis
import sqlalchemy as sa
from flask_migrate import upgrade
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry

from config import Config
from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.demo import DATA
from coordinator.events import outbox
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.geography.operations import import_wards_file
from coordinator.matching.models import MatchingRun
from coordinator.people.operations import create_user
from tests.api_helpers import ANY_TIME
from tests.conftest import sibling_app
from tests.jobs.fault_helpers import (
    PostgresServer,
    WorkerProcess,
    postgres_binaries,
    wait_for,
    worker_env,
)
from tests.notifications.notification_helpers import free_port, notifications, session_starting
from tests.notifications.test_delivery import assign

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups"),
]
WITHIN_A_MINUTE = 60


def _holds_scheduler_lock(connection, queue: str) -> bool:
    return connection.exists(f"rq:scheduler-lock:{queue}") == 1


def test_a_worker_killed_mid_send_is_retried_by_another_within_a_minute_and_sends_once(
    app, client, make_session, make_volunteer, organizer_headers, redis_client, smtp, tmp_path
):
    session = session_starting(make_session, utcnow() + timedelta(days=10))
    volunteer_id, _ = make_volunteer(availability=ANY_TIME)
    smtp.hold_next_sender = True
    assign(client, session["id"], volunteer_id, organizer_headers)
    db.session.remove()

    env = worker_env(app, tmp_path)
    workers = [WorkerProcess(env, tmp_path / "first.log")]
    try:
        wait_for(lambda: _holds_scheduler_lock(redis_client, "notifications"), 30, "a scheduler")
        workers.append(WorkerProcess(env, tmp_path / "second.log"))
        wait_for(lambda: len(Worker.all(connection=redis_client)) == 2, 30, "two workers")

        wait_for(smtp.holding.is_set, 60, "the message to reach SMTP DATA")
        [notice] = notifications(kind="assigned")
        [sender] = [
            w
            for w in Worker.all(connection=redis_client)
            if w.get_current_job_id() == notice.job_id
        ]
        [victim] = [w for w in workers if w.pid == sender.pid]
        victim.kill()  # mid-send: the worker, its work-horse and its scheduler, at once
        killed_at = time.monotonic()
        smtp.released.set()
        survivor = next(w for w in workers if w is not victim)

        wait_for(lambda: smtp.messages, 2 * WITHIN_A_MINUTE, "the retry to send")
        took = time.monotonic() - killed_at
        assert took < WITHIN_A_MINUTE, f"retried after {took:.0f} s\n{survivor.log()}"
        print(f"sent again {took:.1f} s after the worker was killed")
        time.sleep(2)  # nothing else is on its way
        assert len(smtp.messages) == 1
        [notice] = notifications(kind="assigned")
        assert (notice.status, notice.attempts) == ("sent", 2)
    finally:
        for worker in workers:
            worker.stop()


def _mark_setup_processed() -> int:
    """Events of the setup (made through another Redis) are not under test."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(DomainEvent).values(processed_at=utcnow(), enqueued_at=utcnow()))
        return conn.scalar(sa.select(sa.func.max(DomainEvent.id))) or 0


def test_with_redis_stopped_sign_ups_succeed_and_every_event_is_processed_once_it_returns(
    app, make_session, make_volunteer, own_redis, tmp_path
):
    roles = [{"role": "helper", "count": 30, "required_skills": []}]
    session = session_starting(make_session, utcnow() + timedelta(days=5), roles=roles)
    volunteers = [make_volunteer(availability=ANY_TIME) for _ in range(12)]
    setup_last_event = _mark_setup_processed()
    db.session.remove()

    web = sibling_app(app, REDIS_URL=own_redis.url).test_client()
    worker = WorkerProcess(worker_env(app, tmp_path, own_redis.url), tmp_path / "worker.log")
    connection = redis.Redis.from_url(own_redis.url)
    try:
        wait_for(lambda: Worker.all(connection=connection), 30, "the worker")

        def sign_up(headers) -> None:
            response = web.post(
                f"/api/v1/sessions/{session['id']}/signups",
                json={"role": "helper"},
                headers=headers,
            )
            assert response.status_code == 201, response.get_data(as_text=True)
            assert response.json["status"] == "confirmed"

        for _, headers in volunteers[:4]:
            sign_up(headers)
        own_redis.stop()
        for _, headers in volunteers[4:]:
            sign_up(headers)  # the database is the system of record
        health = web.get("/healthz")
        assert health.status_code == 503
        assert (health.json["status"], health.json["redis"]) == ("degraded", "down")

        own_redis.start()
        back_at = time.monotonic()

        def unprocessed() -> int:
            with db.engine.connect() as conn:
                return conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(DomainEvent)
                    .where(DomainEvent.id > setup_last_event, DomainEvent.processed_at.is_(None))
                )

        wait_for(lambda: unprocessed() == 0, 2 * WITHIN_A_MINUTE, "every event", every=0.5)
        took = time.monotonic() - back_at
        assert took < WITHIN_A_MINUTE, (
            f"processed {took:.0f} s after Redis returned\n{worker.log()}"
        )
        print(f"every event processed {took:.1f} s after Redis returned")
        assert web.get("/healthz").status_code == 200

        with db.engine.connect() as conn:
            signed = conn.execute(
                sa.select(Assignment.volunteer_id, sa.func.count())
                .where(Assignment.session_id == session["id"])
                .group_by(Assignment.volunteer_id)
            ).all()
            written = conn.scalar(
                sa.select(sa.func.count())
                .select_from(DomainEvent)
                .where(DomainEvent.id > setup_last_event)
            )
        assert sorted(v for v, _ in signed) == sorted(v for v, _ in volunteers)
        assert {count for _, count in signed} == {1}
        assert written >= len(volunteers)
        for name in Config.RQ_QUEUES:
            assert FailedJobRegistry(queue=Queue(name, connection=connection)).count == 0
    finally:
        worker.stop()
        connection.close()


def test_workers_outlive_redis_going_away_under_a_busy_worker_and_catch_up(
    app, make_session, make_volunteer, organizer_headers, own_redis, tmp_path
):
    roles = [{"role": "helper", "count": 30, "required_skills": []}]
    session = session_starting(make_session, utcnow() + timedelta(days=5), roles=roles)
    # Those who sign up have no free time, so the run, which may well finish before
    # their sign-ups (its events' jobs run inline), never proposes them a seat first;
    # it has two others to propose.
    volunteers = [make_volunteer(availability=[]) for _ in range(8)]
    proposable = [make_volunteer(availability=ANY_TIME)[0] for _ in range(2)]
    setup_last_event = _mark_setup_processed()
    db.session.remove()

    web = sibling_app(app, REDIS_URL=own_redis.url).test_client()
    env = worker_env(app, tmp_path, own_redis.url)
    workers = [WorkerProcess(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    connection = redis.Redis.from_url(own_redis.url)
    try:
        wait_for(lambda: len(Worker.all(connection=connection)) == 2, 30, "two workers")
        Queue("default", connection=connection).enqueue(
            "tests.jobs.fault_jobs.nap", 30, job_timeout=120
        )
        wait_for(
            lambda: any(w.get_state() == "busy" for w in Worker.all(connection=connection)),
            30,
            "a busy worker",
        )
        run = web.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
        assert run.status_code == 202, run.get_data(as_text=True)
        for _, headers in volunteers[:4]:
            _sign_up(web, session["id"], headers)

        own_redis.stop()
        for _, headers in volunteers[4:]:
            _sign_up(web, session["id"], headers)  # the database is the system of record
        time.sleep(20)
        own_redis.start()
        back_at = time.monotonic()

        wait_for(
            lambda: _unprocessed(setup_last_event) == 0,
            2 * WITHIN_A_MINUTE,
            "every event",
            every=0.5,
        )
        took = time.monotonic() - back_at
        logs = "\n".join(w.log() for w in workers)
        assert took < WITHIN_A_MINUTE, f"processed {took:.0f} s after Redis returned\n{logs}"
        print(f"every event processed {took:.1f} s after Redis returned")
        wait_for(lambda: _run_status(run.json["id"]) == "finished", WITHIN_A_MINUTE, "the run")
        assert _proposed() == set(proposable)
        time.sleep(2)
        assert [w.process.poll() for w in workers] == [None, None], logs  # both still work
        # Both are registered and beating. (Redis came back with its saved keys, so a
        # registration from before the outage may linger until its TTL.)
        recent = utcnow() - timedelta(seconds=30)
        beating = [
            w
            for w in Worker.all(connection=connection)
            if w.last_heartbeat and w.last_heartbeat > recent
        ]
        assert len(beating) == 2, [w.name for w in Worker.all(connection=connection)]
    finally:
        for worker in workers:
            worker.stop()
        connection.close()


def _sign_up(web, session_id: int, headers: dict) -> None:
    response = web.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": "helper"}, headers=headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def _unprocessed(after_event: int) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(
            sa.select(sa.func.count())
            .select_from(DomainEvent)
            .where(DomainEvent.id > after_event, DomainEvent.processed_at.is_(None))
        )


def _proposed() -> set[int]:
    with db.engine.connect() as conn:
        return set(
            conn.scalars(
                sa.select(Assignment.volunteer_id).where(
                    Assignment.source == "matcher", Assignment.status == "proposed"
                )
            )
        )


def _run_status(run_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(MatchingRun.status).where(MatchingRun.id == run_id))


@pytest.fixture
def own_postgres():
    server = PostgresServer(postgres_binaries(), free_port())
    server.init()
    server.start()
    yield server
    server.destroy()


# A machine with only Python (the README's two commands) has no PostgreSQL to restart;
# CI installs it, so there a missing server fails the test instead.
@pytest.mark.skipif(
    postgres_binaries() is None and not os.environ.get("CI"),
    reason="PostgreSQL's server programs are not installed",
)
def test_postgresql_restarted_while_serving_fails_requests_cleanly_then_recovers(app, own_postgres):
    service = sibling_app(app, SQLALCHEMY_DATABASE_URI=own_postgres.url)
    with service.app_context():
        upgrade()
        import_wards_file(DATA / "wards_dong_da.json")
        db.session.commit()
    client = service.test_client()
    assert client.get("/api/v1/wards").status_code == 200  # the pool now holds a connection

    # A request in flight: it waits on a lock when the server goes down under it.
    locker = psycopg.connect(own_postgres.url.replace("+psycopg", ""), autocommit=False)
    locker.execute("LOCK TABLE wards IN ACCESS EXCLUSIVE MODE")
    in_flight: dict = {}
    reader = threading.Thread(target=lambda: in_flight.update(r=client.get("/api/v1/wards")))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive()
    own_postgres.stop()
    reader.join(timeout=30)
    _assert_clean_503(in_flight["r"])
    locker.close()

    # While it is down: the same clean answer, pages included, and /healthz says which part.
    _assert_clean_503(client.get("/api/v1/wards"))
    page = client.get("/wards/kim_lien", headers={"Accept-Language": "en"})
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "Traceback" not in page.get_data(as_text=True)
    down = client.get("/healthz")
    assert (down.status_code, down.json["database"], down.json["redis"]) == (503, "down", "ok")

    own_postgres.start()
    # Back: reads and writes succeed on the same app (dead pooled connections are
    # replaced on checkout), without a restart.
    assert client.get("/api/v1/wards").status_code == 200
    assert client.get("/healthz").status_code == 200
    with service.app_context():
        create_user("after-restart@example.vn", "organizer", "correct-horse-battery")
        db.session.commit()
    token = client.post(
        "/api/v1/auth/tokens",
        json={"email": "after-restart@example.vn", "password": "correct-horse-battery"},
    )
    assert token.status_code == 201, token.get_data(as_text=True)
    with service.app_context():
        db.engine.dispose()


def _assert_clean_503(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["error"] == "service_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.skipif(
    postgres_binaries() is None and not os.environ.get("CI"),
    reason="PostgreSQL's server programs are not installed",
)
@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="it brings its own PostgreSQL: CI runs it once, in the SQLite run",
)
def test_events_that_outlast_their_retries_in_a_postgresql_outage_are_processed_after_it(
    app, own_postgres, own_redis, tmp_path
):
    """PostgreSQL down 130 s with 400 events queued: the jobs spend their retries (5, 30,
    60 s) and fail; once it is back the workers' sweep enqueues them again."""
    service = sibling_app(app, SQLALCHEMY_DATABASE_URI=own_postgres.url, REDIS_URL=own_redis.url)
    with service.app_context():
        upgrade()
        for squad_id in range(400):
            outbox.record("squad.changed", "squad", squad_id + 1, {})
        db.session.commit()  # relayed to Redis after the commit
        db.engine.dispose()
    connection = redis.Redis.from_url(own_redis.url)
    assert Queue("default", connection=connection).count == 400

    own_postgres.stop()
    down_at = time.monotonic()
    env = {**worker_env(app, tmp_path, own_redis.url), "DATABASE_URL": own_postgres.url}
    workers = [WorkerProcess(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    try:
        # Retries at 5, 30 and 60 s: about 100 s on a quiet machine, longer on a busy one.
        wait_for(
            lambda: FailedJobRegistry("default", connection=connection).count == 400,
            600,
            "the jobs to spend their retries",
            every=1,
        )
        time.sleep(max(0.0, 130 - (time.monotonic() - down_at)))  # down 130 s at least
        own_postgres.start()
        back_at = time.monotonic()

        def unprocessed() -> int:
            with service.app_context():
                try:
                    return db.session.scalar(
                        sa.select(sa.func.count())
                        .select_from(DomainEvent)
                        .where(DomainEvent.processed_at.is_(None))
                    )
                finally:
                    db.session.remove()

        def leftovers() -> str:
            """What the database and RQ say of each event left, for the failure message."""
            with service.app_context():
                try:
                    rows = db.session.execute(
                        sa.select(DomainEvent).where(DomainEvent.processed_at.is_(None))
                    ).scalars()
                    lines = []
                    for event in rows:
                        job = Job.fetch(DomainEvent.job_id_for(event.id), connection=connection)
                        lines.append(
                            f"event {event.id}: enqueued_at={event.enqueued_at} "
                            f"attempts={event.enqueue_attempts} job={job.get_status()} "
                            f"retries_left={job.retries_left} ended_at={job.ended_at} "
                            f"exc={(getattr(job.latest_result(), 'exc_string', '') or '')[-600:]}"
                        )
                    return "\n".join(lines)
                finally:
                    db.session.remove()

        logs = lambda: "\n".join(w.log()[-6000:] for w in workers)  # noqa: E731
        try:
            wait_for(lambda: unprocessed() == 0, 3 * WITHIN_A_MINUTE, "every event", every=1)
        except AssertionError as error:
            left = f"{unprocessed()} left\n{leftovers()}"
            raise AssertionError(f"{error}: {left}\n{logs()}") from None
        took = time.monotonic() - back_at
        assert took < 2 * WITHIN_A_MINUTE, f"processed {took:.0f} s after its return\n{logs()}"
        print(f"400 events processed {took:.1f} s after PostgreSQL returned")
        assert [w.process.poll() for w in workers] == [None, None], logs()
    finally:
        for worker in workers:
            worker.stop()
        connection.close()
        with service.app_context():
            db.engine.dispose()
