"""Feeds over HTTP (issue 5, requirements 5, 6 and 8): headers, validators, 304 and
HEAD, the Redis cache and its invalidation, private tokens and their rotation, and
tokens kept out of the logs."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from coordinator.calendar import cache, queries
from coordinator.calendar.tokens import feed_url, rotate_feed_token
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import FeedToken
from tests.calendar.feed_helpers import (
    events_by_uid,
    feed_link,
    make_participant,
    register,
    run_events,
    signup,
)

WARD_FEED = "/calendar/wards/kim_lien.ics"


def reschedule(client, session_id, headers, days=9):
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    response = client.patch(
        f"/api/v1/sessions/{session_id}",
        json={"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    run_events()


def test_public_feed_headers(client, make_session):
    make_session()
    response = client.get(WARD_FEED)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert response.last_modified is not None
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_private_feeds_are_cache_control_private(client, make_session, make_volunteer):
    session = make_session()
    _, headers = make_volunteer()
    signup(client, session["id"], headers)
    response = client.get(feed_link(client, headers))
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("private")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"


def test_304_on_if_none_match_and_if_modified_since_and_head_support(client, make_session):
    make_session()
    full = client.get(WARD_FEED)
    etag, modified = full.headers["ETag"], full.headers["Last-Modified"]

    by_etag = client.get(WARD_FEED, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.data == b""
    assert by_etag.headers["ETag"] == etag
    assert client.get(WARD_FEED, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    by_date = client.get(WARD_FEED, headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    stale = client.get(WARD_FEED, headers={"If-None-Match": '"old"', "If-Modified-Since": modified})
    assert stale.status_code == 200 and stale.data == full.data

    head = client.head(WARD_FEED)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == etag
    assert int(head.headers["Content-Length"]) == len(full.data)
    assert client.head(WARD_FEED, headers={"If-None-Match": etag}).status_code == 304


def test_validators_change_exactly_when_the_content_changes(
    client, make_session, organizer_headers, make_volunteer
):
    session = make_session()
    first = client.get(WARD_FEED)
    # A change the feed does not show (a booking) is an event too: same ETag, same bytes.
    _, volunteer = make_volunteer()
    signup(client, session["id"], volunteer)
    assert run_events() >= 1
    same = client.get(WARD_FEED)
    assert same.headers["ETag"] == first.headers["ETag"] and same.data == first.data
    assert same.headers["Last-Modified"] == first.headers["Last-Modified"]

    reschedule(client, session["id"], organizer_headers)
    moved = client.get(WARD_FEED, headers={"If-None-Match": first.headers["ETag"]})
    assert moved.status_code == 200
    assert moved.headers["ETag"] != first.headers["ETag"]
    assert moved.last_modified >= first.last_modified

    venue = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"venue": "Trường THCS Đống Đa"},
        headers=organizer_headers,
    )
    assert venue.status_code == 200
    run_events()
    changed = client.get(WARD_FEED)
    assert changed.headers["ETag"] not in (first.headers["ETag"], moved.headers["ETag"])
    assert b"Tr\xc6\xb0\xe1\xbb\x9dng THCS" in changed.data


def test_a_related_row_changing_changes_the_private_feed(
    client, make_session, make_volunteer, auth_headers
):
    """A squad-mate renaming themselves changes my feed (their first name shows)."""
    session = make_session()
    mate_id, mate_headers = make_volunteer(full_name="Lê Thị Mai")
    _, my_headers = make_volunteer()
    signup(client, session["id"], mate_headers)
    signup(client, session["id"], my_headers)
    link = feed_link(client, my_headers)
    before = client.get(link)
    renamed = client.patch(
        f"/api/v1/volunteers/{mate_id}", json={"full_name": "Lê Thị Hoa"}, headers=mate_headers
    )
    assert renamed.status_code == 200, renamed.json
    run_events()
    after = client.get(link, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Hoa" in after.data.decode() and "Mai" not in after.data.decode()
    assert (
        after.last_modified > before.last_modified
        or after.headers["ETag"] != before.headers["ETag"]
    )


def test_last_modified_moves_forward_when_an_event_drops_out(
    app, client, make_session, organizer_headers, redis_client, monkeypatch
):
    session = make_session()
    cancelled = client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mưa bão"},
        headers=organizer_headers,
    )
    assert cancelled.status_code == 200
    run_events()
    shown = client.get(WARD_FEED)
    assert b"STATUS:CANCELLED" in shown.data
    later = utcnow() + timedelta(days=15)
    real = queries.ward_feed
    monkeypatch.setattr(queries, "ward_feed", lambda code: real(code, now=later))
    redis_client.delete(cache.feed_key("ward:kim_lien"))  # the pointer's TTL ran out
    gone = client.get(WARD_FEED, headers={"If-Modified-Since": shown.headers["Last-Modified"]})
    assert gone.status_code == 200 and b"VEVENT" not in gone.data
    assert gone.last_modified > shown.last_modified


def test_a_cache_hit_and_a_304_neither_query_nor_render(client, make_session, monkeypatch):
    make_session()
    first = client.get(WARD_FEED)

    def boom(*_args, **_kwargs):
        raise AssertionError("rendered or queried on a cache hit")

    monkeypatch.setattr(cache, "render", boom)
    monkeypatch.setattr(queries, "ward_feed", boom)
    again = client.get(WARD_FEED)
    assert again.status_code == 200 and again.data == first.data
    assert (
        client.get(WARD_FEED, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    )


def test_a_cold_304_queries_once_but_does_not_render(
    client, make_session, redis_client, monkeypatch
):
    make_session()
    etag = client.get(WARD_FEED).headers["ETag"]
    redis_client.flushdb()
    monkeypatch.setattr(cache, "render", lambda feed: pytest.fail("rendered for a 304"))
    assert client.get(WARD_FEED, headers={"If-None-Match": etag}).status_code == 304


def test_domain_events_invalidate_the_cached_feed(client, make_session, organizer_headers):
    session = make_session()
    cached = client.get(WARD_FEED)
    assert "Sử dụng" in cached.data.decode()
    renamed = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"title": "Dịch vụ công trực tuyến"},
        headers=organizer_headers,
    )
    assert renamed.status_code == 200
    assert client.get(WARD_FEED).data == cached.data  # until the event is handled
    run_events()
    assert "Dịch vụ công trực tuyến" in client.get(WARD_FEED).data.decode()


def test_a_render_that_raced_an_event_is_not_served(client, make_session, organizer_headers):
    """A render that read the old rows but stored after the event's invalidation is
    stored under the old generation, and so never answers."""
    session = make_session()
    stale_state = cache.current("ward:kim_lien", lambda: queries.ward_feed("kim_lien"))
    client.patch(
        f"/api/v1/sessions/{session['id']}", json={"title": "Tên mới"}, headers=organizer_headers
    )
    run_events()  # invalidates (raises the generation)
    from coordinator.extensions import redis_connection

    redis_connection.client.set(
        cache.feed_key("ward:kim_lien"),
        f"0|{stale_state.version}|{int(stale_state.last_modified.timestamp())}",
    )
    assert "Tên mới" in client.get(WARD_FEED).data.decode()


def test_unknown_ward_squad_and_tokens_are_the_plain_404(client, make_session, make_volunteer):
    make_session()
    _, headers = make_volunteer()
    link = feed_link(client, headers)
    reference = client.get("/no/such/path")
    assert reference.status_code == 404
    for path in (
        "/calendar/wards/no_such_ward.ics",
        "/calendar/squads/999.ics",
        "/calendar/v/" + "A" * 43 + ".ics",
        "/calendar/v/short.ics",
        "/calendar/p/" + link.split("/")[-1],  # a volunteer token is no participant token
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.data == reference.data, path
        assert response.headers["Content-Type"] == reference.headers["Content-Type"]


def test_rotating_the_token_kills_the_old_link(client, make_session, make_volunteer):
    make_session()
    _, headers = make_volunteer()
    response = client.post("/api/v1/me/feed-token", headers=headers)
    assert response.status_code == 201
    body = response.json
    assert body["feed_url"].startswith("http://localhost:5000/calendar/v/")
    assert body["webcal_url"] == "webcal://" + body["feed_url"].split("://")[1]
    assert body["google_url"].startswith("https://calendar.google.com/calendar/r?cid=webcal")
    old = "/" + body["feed_url"].split("/", 3)[3]
    assert client.get(old).status_code == 200

    new = feed_link(client, headers)
    assert new != old
    reference = client.get("/no/such/path")
    revoked = client.get(old)
    assert revoked.status_code == 404 and revoked.data == reference.data
    assert client.get(new).status_code == 200


def test_tokens_are_random_32_bytes_and_stored_only_as_sha256(client, make_volunteer):
    _, headers = make_volunteer()
    tokens = {feed_link(client, headers).split("/")[-1].removesuffix(".ics") for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) >= 43 for t in tokens)  # 32 bytes, base64url
    rows = db.session.scalars(sa.select(FeedToken)).all()
    stored = {r.token_hash for r in rows}
    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} == stored
    assert sum(r.revoked_at is None for r in rows) == 1
    for row in rows:
        values = [str(getattr(row, c.key)) for c in FeedToken.__table__.columns]
        assert not any(t in v for t in tokens for v in values)


def test_feed_token_needs_a_logged_in_volunteer(client, organizer_headers):
    assert client.post("/api/v1/me/feed-token").status_code == 401
    assert client.post("/api/v1/me/feed-token", headers=organizer_headers).status_code == 403


def test_participant_feed_shows_registered_sessions(client, make_session, organizer_headers):
    mine = make_session(title="Buổi của tôi")
    make_session(title="Buổi khác")
    person = make_participant("Học viên A", "0911000000", ["low_vision"])
    register(client, mine["id"], person, organizer_headers)
    token = rotate_feed_token(participant_id=person)
    db.session.commit()
    path = "/" + feed_url("p", token).split("/", 3)[3]
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("private")
    assert set(events_by_uid(response.data)) == {f"session-{mine['id']}@localhost"}
    assert client.get(path.replace("/p/", "/v/")).status_code == 404


@pytest.mark.parametrize(
    "logger_name, message, args",
    [
        (
            "werkzeug",
            '%s - - [%s] "%s" %s %s',
            ("127.0.0.1", "25/Nov/2026 10:00:00", "GET {path} HTTP/1.1", "200", "-"),
        ),
        (
            "gunicorn.access",
            '%(h)s "%(r)s" %(s)s',
            {"h": "127.0.0.1", "r": "GET {path}?x=1 HTTP/1.1", "s": "304"},
        ),
        ("coordinator.errors", "unhandled error on %s %s", ("GET", "{path}")),
    ],
)
@pytest.mark.parametrize(
    "spelling",
    ["/calendar/v/{token}.ics", "/%63alendar/v/{token}.ics", "/calendar/%76/{token}.ics"],
)
def test_feed_tokens_are_scrubbed_from_logs(app, caplog, logger_name, message, args, spelling):
    token = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE"
    path = spelling.format(token=token)
    if isinstance(args, dict):
        args = ({k: v.format(path=path) for k, v in args.items()},)
    else:
        args = tuple(a.format(path=path) for a in args)
    logger = logging.getLogger(logger_name)
    if logger_name == "coordinator.errors":
        # Other loggers are scrubbed by the handlers they reach: pretend caplog's is one.
        from coordinator.calendar.log_scrub import FeedTokenFilter

        caplog.handler.addFilter(FeedTokenFilter())
    with caplog.at_level(logging.INFO, logger=logger_name):
        logger.info(message, *args)
    assert token not in caplog.text
    assert "/calendar/v/[redacted].ics" in caplog.text


def test_a_feed_is_served_at_its_one_spelling_only(client, make_volunteer):
    _volunteer_id, headers = make_volunteer()
    path = feed_link(client, headers)
    assert client.get(path).status_code == 200
    for other in (path.replace("/calendar/", "/%63alendar/"), path.replace("/v/", "/%76/")):
        assert client.get(other).status_code == 404
    assert client.get("/calendar/wards/%6bim_lien.ics").status_code == 404
