"""Rendered feeds in Redis, keyed by content version, dropped by domain events.

Per feed (`ward:<code>`, `squad:<id>`, `volunteer:<id>`, `participant:<id>`):
- `calendar:gen:<feed>`: a generation counter that event handlers raise;
- `calendar:feed:<feed>`: "<generation>|<version>|<last-modified>", valid while its
  generation is current (a render that raced an event is stored under a stale one);
- `calendar:body:<version>`: the rendered bytes of that content version, gzipped (a
  1,000-event feed: 669 KB -> 22 KB, so reading it from Redis costs next to nothing;
  views unzip it for the rare client that does not accept gzip);
- `calendar:lm:<feed>`: the last version seen and when it first appeared, so
  Last-Modified moves forward even when an event drops out of the window.
A hit costs one Redis round trip for a 304 and two for a 200; no query, no rendering.
Redis is only a cache: when it is down, feeds are built from the database.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import current_app

from coordinator.calendar.feeds import Feed, render
from coordinator.database import utcnow
from coordinator.extensions import redis_connection

log = logging.getLogger(__name__)
EMPTY_FEED_MODIFIED = datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_TTL_SECONDS = 600  # bounds how late a session leaving the window is noticed
BODY_TTL_SECONDS = 6 * 3600
GZIP_LEVEL = 6  # level 9 saves ~3 % more at twice the cost; bodies are compressed once
LM_TTL_SECONDS = 40 * 86400


def feed_key(name: str) -> str:
    return f"calendar:feed:{name}"


def generation_key(name: str) -> str:
    return f"calendar:gen:{name}"


def body_key(version: str) -> str:
    return f"calendar:body:{version}"


@dataclass
class FeedState:
    """What HTTP needs to answer: validators now, the body only when asked."""

    name: str
    version: str
    last_modified: datetime
    feed: Feed | None = None  # set when this request built the feed

    @property
    def etag(self) -> str:
        return f'"{self.version[:40]}"'


def _client():
    return redis_connection.client


def _ttl() -> int:
    return current_app.config.get("CALENDAR_CACHE_SECONDS", DEFAULT_TTL_SECONDS)


def current(name: str, build: Callable[[], Feed | None]) -> FeedState | None:
    """The feed's validators, from Redis when current, else built (one query); None
    when the feed does not exist."""
    generation = b"0"
    try:
        generation, pointer = _client().mget(generation_key(name), feed_key(name))
        generation = generation or b"0"
        if pointer:
            gen, version, modified = pointer.decode().split("|")
            if gen.encode() == generation:
                return FeedState(name, version, datetime.fromtimestamp(int(modified), UTC))
    except redis.RedisError:
        log.warning("feed cache unavailable; building %s from the database", name.split(":")[0])
    feed = build()
    if feed is None:
        return None
    version = feed.version()
    state = FeedState(name, version, _last_modified(name, feed, version), feed)
    try:
        pointer = f"{generation.decode()}|{version}|{int(state.last_modified.timestamp())}"
        _client().set(feed_key(name), pointer, ex=_ttl())
    except redis.RedisError:
        pass
    return state


def _last_modified(name: str, feed: Feed, version: str) -> datetime:
    """The newest change shown, moved forward when the content changed without one."""
    base = (feed.last_modified() or EMPTY_FEED_MODIFIED).replace(microsecond=0)
    base_ts = int(base.timestamp())
    key = f"calendar:lm:{name}"
    try:
        previous = _client().get(key)
        modified_ts = base_ts
        if previous:
            seen_version, seen_ts = previous.decode().split("|")
            if seen_version == version:
                modified_ts = max(int(seen_ts), base_ts)
            elif int(seen_ts) >= base_ts:
                modified_ts = max(int(seen_ts) + 1, int(utcnow().timestamp()))
        _client().set(key, f"{version}|{modified_ts}", ex=LM_TTL_SECONDS)
        return datetime.fromtimestamp(modified_ts, UTC)
    except redis.RedisError:
        return base


def body(state: FeedState, build: Callable[[], Feed | None]) -> bytes | None:
    """The rendered bytes, gzipped: from Redis by version, else rendered, compressed
    and stored once. `state` is updated if the feed turns out to have changed meanwhile."""
    try:
        cached = _client().get(body_key(state.version))
        if cached is not None:
            return cached
    except redis.RedisError:
        pass
    feed = state.feed or build()
    if feed is None:
        return None
    if feed is not state.feed and feed.version() != state.version:
        # Changed since the validators were cached: answer with the new ones.
        state.version = feed.version()
        state.last_modified = _last_modified(state.name, feed, state.version)
    rendered = gzip.compress(render(feed), GZIP_LEVEL, mtime=0)  # same bytes each time
    try:
        _client().set(body_key(state.version), rendered, ex=BODY_TTL_SECONDS)
    except redis.RedisError:
        pass
    return rendered


def invalidate(names: set[str]) -> None:
    """Make these feeds' cached validators stale (bodies stay: keyed by version)."""
    if not names:
        return
    pipe = _client().pipeline(transaction=False)
    for name in sorted(names):
        pipe.incr(generation_key(name))
        pipe.delete(feed_key(name))
    pipe.execute()
