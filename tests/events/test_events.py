"""The outbox: events commit with their change, reach RQ only after commit, survive a
Redis outage, and are processed once by a real worker over a real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from rq import Queue, SimpleWorker
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from coordinator.calendar.handlers import ward_feed_cache_key
from coordinator.database import utcnow
from coordinator.events import dispatch, outbox, relay
from coordinator.events.models import DomainEvent
from coordinator.events.relay import enqueue_event
from coordinator.extensions import db

UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"  # the discard port: connection refused


def queued_job_ids(redis_client, name: str = "default") -> list[str]:
    return Queue(name, connection=redis_client).job_ids


def work_burst(redis_client, queues=("default",)) -> None:
    SimpleWorker(list(queues), connection=redis_client).work(burst=True)


def reload(event: DomainEvent) -> DomainEvent:
    """The row as stored now (jobs run in this process end the shared session)."""
    return db.session.get(DomainEvent, event.id, populate_existing=True)


def use_redis(app, url: str) -> None:
    """Point the app at another Redis; the next use reconnects."""
    app.config["REDIS_URL"] = url
    app.extensions.pop("redis_client", None)


def test_event_committed_with_its_change_is_enqueued_after_commit(app, redis_client):
    event = outbox.record("session.published", "session", 1, {"session_id": 1, "ward": "kim_lien"})
    db.session.flush()
    assert queued_job_ids(redis_client) == []  # nothing leaves before the commit

    db.session.commit()

    assert queued_job_ids(redis_client) == [f"evt-{event.id}"]
    event = reload(event)
    assert event.enqueued_at is not None
    assert event.enqueue_attempts == 1


def test_event_written_in_a_rolled_back_transaction_is_never_enqueued(app, redis_client):
    outbox.record("session.published", "session", 1, {"session_id": 1, "ward": "kim_lien"})
    db.session.flush()
    db.session.rollback()

    assert relay.sweep(min_age_seconds=0) == 0
    assert db.session.scalar(sa.select(sa.func.count(DomainEvent.id))) == 0
    assert queued_job_ids(redis_client) == []


def test_failed_request_rolls_back_its_event(
    client, organizer_headers, wards, competences, session_payload, redis_client
):
    events_before = db.session.scalar(sa.select(sa.func.count(DomainEvent.id)))
    jobs_before = queued_job_ids(redis_client)
    response = client.post(
        "/api/v1/sessions", json=session_payload(ward="no_such_ward"), headers=organizer_headers
    )
    assert response.status_code == 422
    db.session.commit()  # a later commit must not carry anything of the failed request
    assert db.session.scalar(sa.select(sa.func.count(DomainEvent.id))) == events_before
    assert queued_job_ids(redis_client) == jobs_before


def test_event_whose_enqueue_failed_is_delivered_later_by_the_relay(
    app, client, organizer_headers, wards, competences, session_payload, redis_client
):
    real_url = app.config["REDIS_URL"]
    use_redis(app, UNREACHABLE_REDIS)

    response = client.post("/api/v1/sessions", json=session_payload(), headers=organizer_headers)

    assert response.status_code == 201  # the database is the system of record
    db.session.expire_all()
    event = db.session.scalar(sa.select(DomainEvent).where(DomainEvent.type == "session.published"))
    assert event.enqueued_at is None
    assert event.enqueue_attempts == 1

    use_redis(app, real_url)
    db.session.rollback()  # end the test's read (SQLite: one writer at a time)
    assert relay.sweep(min_age_seconds=0) == 1

    event = reload(event)
    assert event.enqueued_at is not None
    assert f"evt-{event.id}" in queued_job_ids(redis_client)
    work_burst(redis_client)
    event = reload(event)
    assert event.processed_at is not None


def test_after_a_redis_failure_requests_skip_the_relay_until_backoff_ends(app):
    use_redis(app, UNREACHABLE_REDIS)
    outbox.record("session.published", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    second = outbox.record("session.published", "session", 2, {"ward": "kim_lien"})
    db.session.commit()
    second = reload(second)
    assert second.enqueue_attempts == 0  # not even tried: Redis is known to be down


def test_real_worker_runs_the_event_job_and_its_effect_is_visible(
    client, organizer_headers, wards, competences, session_payload, redis_client
):
    redis_client.set(ward_feed_cache_key("kim_lien"), b"BEGIN:VCALENDAR stale")
    redis_client.set(ward_feed_cache_key("cat_linh"), b"BEGIN:VCALENDAR other ward")

    response = client.post("/api/v1/sessions", json=session_payload(), headers=organizer_headers)
    assert response.status_code == 201
    work_burst(redis_client)

    assert redis_client.get(ward_feed_cache_key("kim_lien")) is None
    assert redis_client.get(ward_feed_cache_key("cat_linh")) is not None
    event = db.session.scalar(sa.select(DomainEvent).where(DomainEvent.type == "session.published"))
    assert event.processed_at is not None


def test_processing_an_event_twice_has_one_effect(app, redis_client):
    event = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    redis_client.set(ward_feed_cache_key("kim_lien"), b"cached")

    assert dispatch.process_event(event.id) == "processed"
    redis_client.set(ward_feed_cache_key("kim_lien"), b"cached again")
    assert dispatch.process_event(event.id) == "already processed"

    assert redis_client.get(ward_feed_cache_key("kim_lien")) == b"cached again"


def test_a_missing_event_is_a_no_op(app):
    assert dispatch.process_event(424242) == "missing"


def test_the_same_event_cannot_be_queued_twice(app, redis_client):
    event = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    with pytest.raises(DuplicateJobError):
        enqueue_event(event.id, event.type)
    # A relay that lost its mark (crash between enqueue and update) re-sends harmlessly.
    db.session.execute(sa.update(DomainEvent).values(enqueued_at=None))
    db.session.commit()
    assert relay.sweep(min_age_seconds=0) == 1
    assert queued_job_ids(redis_client) == [f"evt-{event.id}"]


def test_jobs_carry_only_the_event_id(app, redis_client):
    event = outbox.record("volunteer.created", "volunteer", 7, {"volunteer_id": 7})
    db.session.commit()
    job = Queue("default", connection=redis_client).fetch_job(f"evt-{event.id}")
    assert job.args == (event.id,)
    assert job.kwargs == {}
    assert job.func_name == "jobs.events.process_event"
    assert str(event.id) in job.description and "volunteer" not in job.description


def test_sweep_leaves_young_events_to_the_after_commit_relay(app, redis_client):
    app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False
    outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    assert relay.sweep(min_age_seconds=3600) == 0
    assert relay.sweep(min_age_seconds=0) == 1


def test_flask_worker_burst_command_processes_pending_events(app, runner, redis_client):
    app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False  # only the worker's startup sweep sends
    event = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    event_id = event.id  # the worker's inline jobs end this (shared) session: detached
    redis_client.set(ward_feed_cache_key("kim_lien"), b"cached")

    result = runner.invoke(args=["worker", "--burst"])

    assert result.exit_code == 0, result.output
    event = db.session.get(DomainEvent, event_id)
    assert event.enqueued_at is not None and event.processed_at is not None
    assert redis_client.get(ward_feed_cache_key("kim_lien")) is None


def test_savepoints_do_not_release_events_early(app, redis_client):
    kept = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.flush()
    with db.session.begin_nested():
        inner = outbox.record("session.changed", "session", 2, {"ward": "kim_lien"})
    assert queued_job_ids(redis_client) == []  # released savepoint: outer not committed yet
    nested = db.session.begin_nested()
    outbox.record("session.changed", "session", 3, {"ward": "kim_lien"})
    db.session.flush()
    nested.rollback()

    db.session.commit()

    assert sorted(queued_job_ids(redis_client)) == sorted([f"evt-{kept.id}", f"evt-{inner.id}"])


def test_events_whose_jobs_redis_lost_are_enqueued_again_and_processed_once(app, redis_client):
    event = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    event_id = event.id
    assert reload(event).enqueued_at is not None
    # SQLite: no open transaction (even a read of an expired row) while the relay writes.
    db.session.rollback()
    redis_client.flushdb()  # Redis restarts without its data: the job is gone

    assert relay.sweep(min_age_seconds=0) == 0  # it was sent once: the plain sweep skips it
    assert relay.requeue_lost(min_age_seconds=3600) == 0  # too recent to call lost
    assert relay.requeue_lost(min_age_seconds=0) == 1
    assert queued_job_ids(redis_client) == [f"evt-{event_id}"]
    assert relay.requeue_lost(min_age_seconds=0) == 0  # its job exists again

    work_burst(redis_client)
    event = reload(event)
    assert event.processed_at is not None and event.enqueue_attempts == 2
    db.session.rollback()
    assert relay.requeue_lost(min_age_seconds=0) == 0  # processed: never again


def _fail_job(redis_client, event_id: int, ended_minutes_ago: float) -> None:
    """The event's job as RQ leaves one whose retries ran out (the database was down)."""
    queue = Queue("default", connection=redis_client)
    job = queue.fetch_job(f"evt-{event_id}")
    queue.remove(job)
    job.ended_at = utcnow() - timedelta(minutes=ended_minutes_ago)
    job.set_status(JobStatus.FAILED)
    job.save()
    FailedJobRegistry("default", connection=redis_client).add(job, ttl=3600, exc_string="down")


def test_events_whose_jobs_failed_are_enqueued_again_later_each_time_up_to_a_budget(
    app, redis_client
):
    app.config["OUTBOX_MAX_ENQUEUES"] = 3
    event = outbox.record("squad.changed", "squad", 1, {})
    db.session.commit()
    event_id = event.id
    db.session.rollback()
    failed = FailedJobRegistry("default", connection=redis_client)

    _fail_job(redis_client, event_id, ended_minutes_ago=0)
    assert relay.requeue_lost(min_age_seconds=0) == 0  # failed a moment ago: wait
    _fail_job(redis_client, event_id, ended_minutes_ago=1)
    assert relay.requeue_lost(min_age_seconds=0) == 1  # 30 s after the first failure
    assert queued_job_ids(redis_client) == [f"evt-{event_id}"] and failed.count == 0

    _fail_job(redis_client, event_id, ended_minutes_ago=0.75)
    assert relay.requeue_lost(min_age_seconds=0) == 0  # the second wait is 60 s
    _fail_job(redis_client, event_id, ended_minutes_ago=1.5)
    assert relay.requeue_lost(min_age_seconds=0) == 1
    _fail_job(redis_client, event_id, ended_minutes_ago=60)
    assert relay.requeue_lost(min_age_seconds=0) == 0  # three enqueues: the budget is spent
    assert reload(event).processed_at is None
    db.session.rollback()

    app.config["OUTBOX_MAX_ENQUEUES"] = 4
    assert relay.requeue_lost(min_age_seconds=0) == 1
    work_burst(redis_client)
    assert reload(event).processed_at is not None and reload(event).enqueue_attempts == 4


@pytest.mark.parametrize(
    "status", [JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.FAILED]
)
def test_events_whose_jobs_no_queue_or_worker_holds_are_enqueued_again(app, redis_client, status):
    """A worker that quit or died after taking the job off its queue, before finishing it,
    leaves its status queued or started (or a lost schedule, scheduled; a lost failure
    record, failed) with nothing that will run it: RQ's cleanup skips such jobs, so the
    requeue must not."""
    event = outbox.record("squad.changed", "squad", 1, {})
    db.session.commit()
    event_id = event.id
    db.session.rollback()
    queue = Queue("default", connection=redis_client)
    job = queue.fetch_job(f"evt-{event_id}")
    assert relay.requeue_lost(min_age_seconds=0) == 0  # on its queue: RQ's to run

    queue.remove(job)  # taken off the queue by a worker that then died
    job.set_status(status)
    assert relay.requeue_lost(min_age_seconds=0) == 1
    assert queued_job_ids(redis_client) == [f"evt-{event_id}"]
    assert relay.requeue_lost(min_age_seconds=0) == 0  # queued again: once

    work_burst(redis_client)
    event = reload(event)
    assert event.processed_at is not None and event.enqueue_attempts == 2


def test_a_job_with_a_live_or_expired_execution_is_left_to_rq(app, redis_client):
    event = outbox.record("squad.changed", "squad", 1, {})
    db.session.commit()
    event_id = event.id
    db.session.rollback()
    queue = Queue("default", connection=redis_client)
    job = queue.fetch_job(f"evt-{event_id}")
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    # RQ's maintenance retries or fails a started job whose execution expired.
    redis_client.zadd(job.started_job_registry.key, {f"{job.id}:an-execution": 0})
    assert relay.requeue_lost(min_age_seconds=0) == 0
    assert queued_job_ids(redis_client) == []


def _commit_unrelayed(app, events: list[tuple[str, dict]]) -> list[int]:
    """Commit these events as one transaction without the after-commit relay (as if the
    process died right after the commit): the test relays them itself."""
    relay._state()["redis_down_until"] = float("inf")
    recorded = [
        outbox.record(kind, "session", n, payload) for n, (kind, payload) in enumerate(events)
    ]
    db.session.commit()
    ids = [event.id for event in recorded]
    db.session.rollback()  # SQLite: no open read while the relay writes
    relay._state()["redis_down_until"] = 0.0
    return ids


def _marked(ids: list[int]) -> set[int]:
    with db.engine.connect() as conn:
        table = DomainEvent.__table__
        return set(
            conn.scalars(
                sa.select(table.c.id).where(table.c.id.in_(ids), table.c.enqueued_at.is_not(None))
            )
        )


def test_a_batch_relay_enqueues_each_event_once_even_when_some_are_already_queued(
    app, redis_client, monkeypatch
):
    monkeypatch.setattr(relay, "RELAY_BATCH", 7)  # several pipelined round trips
    app.config["MATCHING_DEBOUNCE_SECONDS"] = 30
    events = [("assignment.matched", {"session_id": n, "ward": "kim_lien"}) for n in range(40)]
    events[20] = ("matching.run_scheduled", {"run_id": 1})  # debounced: on the scheduler
    ids = _commit_unrelayed(app, events)
    already = ids[::3]  # a relay that died before marking them, or one racing this one
    for event_id in already:
        enqueue_event(event_id, "assignment.matched")

    assert relay.publish(ids) == len(ids)

    plain = [i for i in ids if i != ids[20]]
    assert sorted(queued_job_ids(redis_client)) == sorted(f"evt-{i}" for i in plain)
    # Feeds: the single early jobs of those enqueued one by one, then one per batch of 7.
    early = queued_job_ids(redis_client, "feeds")
    singles = [f"early-{i}-feeds" for i in already]
    batches = [job_id for job_id in early if job_id not in singles]
    assert set(singles) <= set(early) and len(batches) == 6  # ceil(40 / 7)
    covered = [i for j in batches for i in Job.fetch(j, connection=redis_client).args[0]]
    assert sorted(covered) == plain  # every event in exactly one batch job
    scheduled = ScheduledJobRegistry("matching", connection=redis_client)
    assert scheduled.get_job_ids() == [f"evt-{ids[20]}"]
    assert _marked(ids) == set(ids)
    # The pipelined jobs carry the options of `enqueue`, like the ones enqueued singly.
    for job_id in (f"evt-{ids[1]}", batches[0], f"evt-{already[1]}"):
        job = Job.fetch(job_id, connection=redis_client)
        assert job.description.endswith(f"#{job_id}")
        assert (job.retries_left, job.result_ttl, job.failure_ttl) == (3, 86400, 7 * 86400)
    # A second relay of the same events, marked or not, adds nothing.
    assert relay.publish(ids) == 0
    with db.engine.begin() as conn:
        conn.execute(sa.update(DomainEvent).values(enqueued_at=None))
    assert relay.publish(ids) == len(ids)
    assert len(queued_job_ids(redis_client)) == len(plain)
    assert queued_job_ids(redis_client, "feeds") == early

    work_burst(redis_client, ("feeds", "default"))
    with db.engine.connect() as conn:
        table = DomainEvent.__table__
        done = conn.scalar(
            sa.select(sa.func.count()).where(
                table.c.id.in_(plain), table.c.processed_at.is_not(None)
            )
        )
    assert done == len(plain)


def test_redis_failing_midway_through_a_batch_leaves_exactly_the_unsent_events_unmarked(
    app, own_redis, monkeypatch
):
    monkeypatch.setattr(relay, "RELAY_BATCH", 10)
    use_redis(app, own_redis.url)
    client = redis.Redis.from_url(own_redis.url)
    ids = _commit_unrelayed(
        app, [("assignment.matched", {"session_id": n, "ward": "kim_lien"}) for n in range(300)]
    )
    # A first publish pays Redis's fixed costs (the script, the queues' keys), then Redis
    # runs out of memory part of the way through the rest (a real refusal, command by
    # command): a budget for some dozens of events, not for 250.
    warm, rest = ids[:50], ids[50:]
    assert relay.publish(warm) == len(warm)
    client.config_set("maxmemory", client.info("memory")["used_memory"] + 150_000)

    sent = relay.publish(rest)

    in_redis = {i for i in ids if client.exists(f"rq:job:evt-{i}")}
    assert 0 < sent < len(rest)
    assert _marked(ids) == in_redis and len(in_redis) == len(warm) + sent
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(DomainEvent.id, DomainEvent.enqueue_attempts)).all()
    attempts = dict(rows)
    assert {attempts[i] for i in ids} == {1}  # the unsent ones were tried once too
    assert relay.publish(ids) == 0  # backing off: the next requests skip the relay

    client.config_set("maxmemory", 0)
    assert relay.sweep(min_age_seconds=0) == len(rest) - sent
    assert _marked(ids) == set(ids)
    queued = Queue("default", connection=client).job_ids
    assert sorted(queued) == sorted(f"evt-{i}" for i in ids)  # each exactly once
