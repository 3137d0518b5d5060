"""Private feed tokens: 32 random bytes in the URL, only their SHA-256 in the database.

Live tokens are remembered in Redis (`calendar:token:<digest>` -> "<kind>|<owner>") so a
feed hit, a 304 above all, needs no query; revoking or deleting a token forgets it at
once and again after the commit (a request between the two could have remembered it).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from urllib.parse import quote

import redis
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from coordinator.database import utcnow
from coordinator.extensions import db, redis_connection
from coordinator.people.auth import token_digest
from coordinator.people.models import FeedToken

TOKEN_BYTES = 32
# URL path letter per owner kind: /calendar/v/<token>.ics, /calendar/p/<token>.ics
KINDS = {"v": FeedToken.volunteer_id, "p": FeedToken.participant_id}
TOKEN_CACHE_SECONDS = 3600
_FORGET = "feed_tokens_to_forget"  # session.info: digests to forget after the commit
log = logging.getLogger(__name__)


def _cache_key(digest: str) -> str:
    return f"calendar:token:{digest}"


def rotate_feed_token(*, volunteer_id: int | None = None, participant_id: int | None = None) -> str:
    """A new private feed token for one owner; their older tokens stop working.

    Flushes; the caller commits. Returns the token, which is never stored."""
    if (volunteer_id is None) == (participant_id is None):
        raise ValueError("exactly one of volunteer_id and participant_id")
    owner = (
        FeedToken.volunteer_id == volunteer_id
        if volunteer_id is not None
        else FeedToken.participant_id == participant_id
    )
    revoked = db.session.scalars(
        sa.update(FeedToken)
        .where(owner, FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(FeedToken.token_hash)
        .execution_options(synchronize_session=False)
    ).all()
    forget_feed_tokens(revoked)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(
        FeedToken(
            token_hash=token_digest(token),
            volunteer_id=volunteer_id,
            participant_id=participant_id,
        )
    )
    db.session.flush()
    return token


def resolve_feed_token(kind: str, token: str) -> int | None:
    """The owner id of a live token of this kind; None for unknown or revoked ones."""
    column = KINDS.get(kind)
    if column is None:
        return None
    digest = token_digest(token)
    try:
        remembered = redis_connection.client.get(_cache_key(digest))
        if remembered is not None:
            cached_kind, owner = remembered.decode().split("|")
            return int(owner) if cached_kind == kind else None
    except redis.RedisError:
        log.warning("feed token cache unavailable; reading the database")
    found = db.session.scalar(
        sa.select(column).where(
            FeedToken.token_hash == digest,
            FeedToken.revoked_at.is_(None),
            column.is_not(None),
        )
    )
    if found is not None:  # unknown tokens are not remembered: guessing fills nothing
        try:
            redis_connection.client.set(
                _cache_key(digest), f"{kind}|{found}", ex=TOKEN_CACHE_SECONDS
            )
        except redis.RedisError:
            pass
    return found


def forget_feed_tokens(digests: Iterable[str]) -> None:
    """Tokens revoked or deleted in this transaction: forgotten now and after the commit."""
    keys = [_cache_key(d) for d in digests]
    if not keys:
        return
    db.session.info.setdefault(_FORGET, set()).update(keys)
    _forget(keys)


def _forget(keys: Iterable[str]) -> None:
    keys = list(keys)
    try:
        if keys:
            redis_connection.client.delete(*keys)
    except redis.RedisError:  # remembered for at most TOKEN_CACHE_SECONDS
        log.warning("could not forget %d revoked feed tokens in Redis", len(keys))


def _after_commit(session: Session) -> None:
    keys = session.info.pop(_FORGET, None)
    if keys and not session.in_nested_transaction():
        _forget(keys)


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_FORGET, None)


def install_listeners() -> None:
    """Forget revoked tokens after each commit (idempotent)."""
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


def feed_url(kind: str, token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/calendar/{kind}/{token}.ics"


def subscribe_links(https_url: str) -> dict[str, str]:
    """The three ways to subscribe: https (Outlook), webcal:// (Apple), Google's add-by-URL."""
    webcal = "webcal://" + https_url.split("://", 1)[-1]
    return {
        "feed_url": https_url,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
    }


def public_subscribe_links(path: str) -> dict[str, str]:
    """Subscribe links of a public feed, `path` being its path on this site."""
    return subscribe_links(f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}")
