"""Feeds at scale (issue 18): gzipped in the cache and on the wire when the client
accepts it, private tokens remembered in Redis (and forgotten when revoked), and a
change that reaches the feed by a job of its own ahead of a backlog of events."""

from __future__ import annotations

import gzip
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from rq import Queue, SimpleWorker
from rq.worker import DequeueStrategy

from coordinator.calendar import cache
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.worker import PriorityFirst
from tests.calendar.feed_helpers import feed_link, signup

WARD_FEED = "/calendar/wards/kim_lien.ics"


class FirstWorker(PriorityFirst, SimpleWorker):
    """The production worker's queue order, in this process."""


GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_a_client_that_accepts_gzip_gets_it_and_the_cache_holds_it_zipped(
    client, make_session, redis_client
):
    make_session()
    plain = client.get(WARD_FEED)
    zipped = client.get(WARD_FEED, headers=GZIP)

    assert plain.headers.get("Content-Encoding") is None and b"VEVENT" in plain.data
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    assert all("Accept-Encoding" in r.headers["Vary"] for r in (plain, zipped))
    # Two representations, two tags, one version; either revalidates to a 304.
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    assert zipped.headers["ETag"].endswith('-gz"')
    for tag in (plain.headers["ETag"], zipped.headers["ETag"]):
        for headers in ({}, GZIP):
            again = client.get(WARD_FEED, headers={**headers, "If-None-Match": tag})
            assert again.status_code == 304, (tag, headers)
    (key,) = redis_client.keys(cache.body_key("*"))
    assert gzip.decompress(redis_client.get(key)) == plain.data
    head = client.head(WARD_FEED, headers=GZIP)
    assert head.status_code == 200 and head.headers["Content-Encoding"] == "gzip"


def test_a_changed_feed_is_a_200_for_the_old_gzip_tag(client, make_session, organizer_headers):
    session = make_session()
    tag = client.get(WARD_FEED, headers=GZIP).headers["ETag"]
    client.patch(
        f"/api/v1/sessions/{session['id']}", json={"title": "Tên mới"}, headers=organizer_headers
    )
    SimpleWorker(["feeds"], connection=cache._client()).work(burst=True)
    changed = client.get(WARD_FEED, headers={**GZIP, "If-None-Match": tag})
    assert changed.status_code == 200 and "Tên mới" in gzip.decompress(changed.data).decode()


def test_public_feeds_may_be_kept_a_minute_at_most(client, make_session):
    make_session()
    control = client.get(WARD_FEED).headers["Cache-Control"]
    assert control.startswith("public") and "max-age=60" in control


@contextmanager
def _statements():
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_a_private_feed_hit_looks_its_token_up_once_then_not_again(
    app, client, make_session, make_volunteer
):
    session = make_session()
    _, headers = make_volunteer()
    signup(client, session["id"], headers)
    link = feed_link(client, headers)
    first = client.get(link)
    assert first.status_code == 200

    with _statements() as seen:
        again = client.get(link, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert not [s for s in seen if "feed_tokens" in s], seen
    assert seen == []  # a warm 304: no statement at all


def test_a_revoked_token_is_forgotten_even_when_remembered(client, make_session, make_volunteer):
    make_session()
    _, headers = make_volunteer()
    old = feed_link(client, headers)
    assert client.get(old).status_code == 200  # remembered now
    new = feed_link(client, headers)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_a_change_reaches_the_feed_ahead_of_a_backlog_of_events(
    client, make_session, organizer_headers, redis_client
):
    session = make_session()
    assert "Sử dụng" in client.get(WARD_FEED).data.decode()
    backlog = Queue("default", connection=redis_client)
    for _ in range(500):  # jobs the worker would take first, were feeds not apart
        backlog.enqueue("builtins.len", "x")

    renamed = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"title": "Dịch vụ công trực tuyến"},
        headers=organizer_headers,
    )
    assert renamed.status_code == 200
    # A worker of every queue, round robin as in production, takes one job: the feeds'.
    worker = FirstWorker(list(client.application.config["RQ_QUEUES"]), connection=redis_client)
    worker.work(burst=True, max_jobs=1, dequeue_strategy=DequeueStrategy.ROUND_ROBIN)

    assert "Dịch vụ công trực tuyến" in client.get(WARD_FEED).data.decode()
    db.session.rollback()
    unprocessed = db.session.scalar(
        sa.select(sa.func.count(DomainEvent.id)).where(DomainEvent.processed_at.is_(None))
    )
    assert unprocessed > 0 and backlog.count > 500  # the events still behind the backlog


def test_the_feeds_queue_stays_first_whatever_the_round_robin(redis_client):
    worker = FirstWorker(["default", "feeds", "matching"], connection=redis_client)
    worker._dequeue_strategy = DequeueStrategy.ROUND_ROBIN
    for served in ("default", "matching", "feeds", "default"):
        worker.reorder_queues(next(q for q in worker.queues if q.name == served))
        assert [q.name for q in worker._ordered_queues][0] == "feeds", served


def _commit_unrelayed(events: list[tuple[int, dict]]) -> list[int]:
    """Commit session events as one transaction, unrelayed (as if the process died right
    after the commit): the test relays them itself."""
    from coordinator.events import outbox, relay

    relay._state()["redis_down_until"] = float("inf")
    recorded = [
        outbox.record("assignment.matched", "session", sid, payload) for sid, payload in events
    ]
    db.session.commit()
    ids = [event.id for event in recorded]
    db.session.rollback()
    relay._state()["redis_down_until"] = 0.0
    return ids


def test_a_commit_of_many_session_events_drops_their_feeds_in_a_few_feed_jobs(
    client, make_session, make_volunteer, redis_client, monkeypatch
):
    """A matching commit writes one event per session it changed (a city's: ~1,000): the
    relay hands `feeds` one job per batch, not one per event, and that job drops every
    feed those sessions show in before any event's own job runs. Relaying the same
    events again adds no job; the sweep's relay of events never relayed does its own."""
    from coordinator.events import relay

    sessions, volunteers = [], []
    for hour in range(3):
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3, hours=3 * hour)
        session = make_session(
            starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat()
        )
        volunteer_id, headers = make_volunteer()
        signup(client, session["id"], headers)
        sessions.append(session["id"])
        volunteers.append(volunteer_id)
    SimpleWorker(["feeds", "default"], connection=redis_client).work(burst=True)
    feeds = ["ward:kim_lien", *(f"volunteer:{v}" for v in volunteers)]

    def cache_them() -> None:
        for name in feeds:
            redis_client.set(cache.feed_key(name), "0|cached|0")

    def cached() -> list[str]:
        return [name for name in feeds if redis_client.exists(cache.feed_key(name))]

    feeds_queue = Queue("feeds", connection=redis_client)
    monkeypatch.setattr(relay, "RELAY_BATCH", 10)
    events = [
        (sessions[n % 3], {"session_id": sessions[n % 3], "ward": "kim_lien"}) for n in range(30)
    ]
    ids = _commit_unrelayed(events)
    cache_them()

    assert relay.publish(ids) == 30
    assert feeds_queue.count == 3  # one per batch of 10, not 30
    SimpleWorker(["feeds"], connection=redis_client).work(burst=True)
    assert cached() == []
    assert Queue("default", connection=redis_client).count == 30  # their own jobs wait

    # Relayed again (a relay that died before marking them): nothing new on `feeds`.
    with db.engine.begin() as conn:
        conn.execute(sa.update(DomainEvent).where(DomainEvent.id.in_(ids)).values(enqueued_at=None))
    assert relay.publish(ids) == 30 and feeds_queue.count == 0

    # Events a request committed but never relayed: the sweep's relay drops their feeds.
    swept = _commit_unrelayed(events[:5])
    cache_them()
    assert relay.sweep(min_age_seconds=0) == 5
    assert feeds_queue.count == 1
    SimpleWorker(["feeds"], connection=redis_client).work(burst=True)
    assert cached() == []
    SimpleWorker(["feeds", "default"], connection=redis_client).work(burst=True)
    db.session.rollback()
    unprocessed = db.session.scalar(
        sa.select(sa.func.count(DomainEvent.id)).where(
            DomainEvent.id.in_(ids + swept), DomainEvent.processed_at.is_(None)
        )
    )
    assert unprocessed == 0
