"""Private feed tokens: 32 random bytes in the URL, only their SHA-256 in the database."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.auth import token_digest
from coordinator.people.models import FeedToken

TOKEN_BYTES = 32
# URL path letter per owner kind: /calendar/v/<token>.ics, /calendar/p/<token>.ics
KINDS = {"v": FeedToken.volunteer_id, "p": FeedToken.participant_id}


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
    db.session.execute(
        sa.update(FeedToken)
        .where(owner, FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
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
    return db.session.scalar(
        sa.select(column).where(
            FeedToken.token_hash == token_digest(token),
            FeedToken.revoked_at.is_(None),
            column.is_not(None),
        )
    )


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
