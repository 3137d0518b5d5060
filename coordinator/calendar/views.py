"""The feed URLs (/calendar/...): conditional GET and HEAD over the feed cache."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, request

from coordinator.calendar import cache, queries
from coordinator.calendar.tokens import resolve_feed_token
from coordinator.people.models import MAX_ID

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

CONTENT_TYPE = "text/calendar; charset=utf-8"
# Short: a change reaches the cache within seconds (calendar.handlers), and a shared
# cache or client revalidating with If-None-Match costs a 304 with no query.
PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, no-cache"
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@bp.before_request
def canonical_paths_only() -> None:
    """A feed is served at its one spelling: `/%63alendar/v/...` would slip past the log
    scrubbing and caches keyed by path, so another spelling is a plain 404."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw is not None and urlsplit(raw).path != request.path:
        abort(404)


@bp.after_request
def no_referrer(response: Response) -> Response:
    """A feed URL may hold a secret: never send it on as a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/wards/<code>.ics")
def ward_feed(code: str) -> Response:
    """Public sessions in a ward."""
    return _serve(f"ward:{code}", lambda: queries.ward_feed(code), PUBLIC_CACHE)


@bp.get("/squads/<int:squad_id>.ics")
def squad_feed(squad_id: int) -> Response:
    """A squad's sessions (public data)."""
    if squad_id > MAX_ID:
        abort(404)
    return _serve(f"squad:{squad_id}", lambda: queries.squad_feed(squad_id), PUBLIC_CACHE)


@bp.get("/v/<token>.ics")
def volunteer_feed(token: str) -> Response:
    """One volunteer's confirmed sessions (private)."""
    volunteer_id = _owner("v", token)
    return _serve(
        f"volunteer:{volunteer_id}", lambda: queries.volunteer_feed(volunteer_id), PRIVATE_CACHE
    )


@bp.get("/p/<token>.ics")
def participant_feed(token: str) -> Response:
    """One participant's registered sessions (private)."""
    participant_id = _owner("p", token)
    return _serve(
        f"participant:{participant_id}",
        lambda: queries.participant_feed(participant_id),
        PRIVATE_CACHE,
    )


def feed_owner(kind: str, token: str) -> int | None:
    """The owner of a private feed token, None for unknown and revoked ones; looked up
    once per request (the rate limiter asks first, to let valid tokens through)."""
    # Kept in the request's environ: flask.g can outlive a request (tests, the CLI).
    known: dict[tuple[str, str], int | None] = request.environ.setdefault("squads.feed_owners", {})
    if (kind, token) not in known:
        valid = TOKEN_SHAPE.fullmatch(token)
        known[kind, token] = resolve_feed_token(kind, token) if valid else None
    return known[kind, token]


def _owner(kind: str, token: str) -> int:
    """The token's owner; unknown and revoked tokens are the app's plain 404."""
    owner = feed_owner(kind, token)
    if owner is None:
        abort(404)
    return owner


def _not_modified(state: cache.FeedState) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since. The
    gzipped representation's tag names the same version."""
    if "If-None-Match" in request.headers:
        tag = state.etag.strip('"')
        matches = request.if_none_match
        return matches.contains_weak(tag) or matches.contains_weak(tag + GZIP_SUFFIX)
    since = request.if_modified_since
    return since is not None and state.last_modified <= since


GZIP_SUFFIX = "-gz"


def _serve(name: str, build: Callable, cache_control: str) -> Response:
    state = cache.current(name, build)
    if state is None:
        abort(404)
    zipped = request.accept_encodings["gzip"] > 0
    if _not_modified(state):
        response = Response(status=304)
    else:
        body = cache.body(state, build)
        if body is None:  # deleted between the two steps
            abort(404)
        if not zipped:
            body = gzip.decompress(body)
        response = Response(body, status=200, content_type=CONTENT_TYPE)
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
    # Two representations of one version: each its own strong tag (RFC 9110 8.8.3.3).
    response.headers["ETag"] = state.etag[:-1] + GZIP_SUFFIX + '"' if zipped else state.etag
    response.headers["Vary"] = "Accept-Encoding"
    response.last_modified = state.last_modified
    response.headers["Cache-Control"] = cache_control
    return response
