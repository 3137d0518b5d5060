"""One read shared by the parts of a run, through Redis, valid only while what it read
is unchanged in the database.

The week parts of a city's month each plan the same 20,000 volunteers (those living in
the run's wards): read by every part, they cost ~0.35 s of PostgreSQL's time and 0.2 s of
Python a part. The first part to read them keeps them here (their JSON document, compressed,
under the run and the wards, for TTL_SECONDS); a later part takes them only when the mark it
reads now (loader.volunteers_mark: their ids, versions and squads) equals the one read
just before them, so a part plans the volunteers as committed when it loads, as if it had
read them itself. No key, another mark, Redis away: the part reads them again (and keeps
its read for the next). The database stays the system of record: this holds copies only.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import zlib
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

from coordinator.extensions import redis_connection

log = logging.getLogger(__name__)
T = TypeVar("T")
# Long enough for the last part of a run behind a backlog, short enough not to keep a
# city's volunteers (~130 KB compressed) for long once the run is over.
TTL_SECONDS = 600


def key(run_id: int, what: str, wards: Iterable[str]) -> str:
    """The key of a run's read of `what` for these wards (parts of different places of
    one run read different volunteers)."""
    digest = hashlib.sha1(",".join(sorted(wards)).encode(), usedforsecurity=False).hexdigest()[:16]
    return f"matching:shared:{run_id}:{what}:{digest}"


def read_once(name: str, mark: Callable[[], str], read: Callable[[], T]) -> T:
    """What `read` returns, from Redis when a part of the run kept it under `name` with
    the mark `mark()` gives now; else read (the mark taken first: a change after it makes
    the next mark differ, so a copy is never newer-looking than what it holds) and kept."""
    now = mark()
    kept = _get(name)
    if kept is not None:
        try:
            then, value = pickle.loads(zlib.decompress(kept))
        except (zlib.error, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
            then, value = None, None  # a copy of an older release's shape: read again
        if then == now:
            return value
    value = read()
    _set(name, zlib.compress(pickle.dumps((now, value), protocol=pickle.HIGHEST_PROTOCOL), 1))
    return value


def _get(name: str) -> bytes | None:
    try:
        return redis_connection.client.get(name)
    except redis.RedisError as exc:  # a nicety: the database has it all
        log.warning("shared read %s not fetched: %s", name, exc)
        return None


def _set(name: str, data: bytes) -> None:
    try:
        redis_connection.client.set(name, data, ex=TTL_SECONDS)
    except redis.RedisError as exc:
        log.warning("shared read %s not kept: %s", name, exc)
