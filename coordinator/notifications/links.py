"""The links in messages: one-time accept/decline links, and the signed links that let a
recipient change their preferences or unsubscribe without logging in."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer

from coordinator.extensions import db
from coordinator.notifications.models import RECIPIENT_KINDS, AnswerToken, Notification
from coordinator.people.auth import token_digest

ANSWER_ACTIONS = ("accept", "decline")
RECIPIENT_SALT = "notification-recipient"
ANSWER_SALT = "notification-answer"


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def session_url(session_id: int) -> str:
    return f"{_base_url()}/sessions/{session_id}"


def issue_answer_token(
    notification: Notification, expires_at: datetime, assignment_id: int | None = None
) -> str:
    """The token for a message's one-tap links about a booking (`assignment_id`, by
    default the notification's own), stored as its SHA-256 (flushes). What an answer
    does is answers.py's, by the notification's kind.

    Derived from the notification id with SECRET_KEY, so a retried delivery sends the
    same links as the attempt that died."""
    signer = Signer(
        current_app.config["SECRET_KEY"],
        salt=ANSWER_SALT,
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )
    token = signer.get_signature(str(notification.id)).decode()
    row = db.session.scalar(
        sa.select(AnswerToken).where(AnswerToken.notification_id == notification.id)
    )
    if row is None:
        row = AnswerToken(
            notification_id=notification.id,
            assignment_id=assignment_id or notification.assignment_id,
        )
        db.session.add(row)
    row.token_hash, row.expires_at = token_digest(token), expires_at
    db.session.flush()
    return token


def find_answer_token(token: str) -> AnswerToken | None:
    return db.session.scalar(
        sa.select(AnswerToken).where(AnswerToken.token_hash == token_digest(token))
    )


def answer_url(token: str, action: str) -> str:
    return f"{_base_url()}/notifications/answer/{token}/{action}"


def choice_url(token: str) -> str:
    """The short link (SMS, Zalo) to a page offering both answers."""
    return f"{_base_url()}/n/{token}"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=RECIPIENT_SALT)


def recipient_token(recipient_kind: str, recipient_id: int) -> str:
    """A signed, lasting token naming one recipient (no expiry: unsubscribe links must
    keep working); it can only change that recipient's notification preferences."""
    return _serializer().dumps([RECIPIENT_KINDS.index(recipient_kind), recipient_id])


def read_recipient_token(token: str) -> tuple[str, int] | None:
    try:
        kind_index, recipient_id = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(kind_index, int) or not 0 <= kind_index < len(RECIPIENT_KINDS):
        return None
    if not isinstance(recipient_id, int):
        return None
    return RECIPIENT_KINDS[kind_index], recipient_id


def preferences_url(recipient_kind: str, recipient_id: int) -> str:
    token = recipient_token(recipient_kind, recipient_id)
    return f"{_base_url()}/notifications/preferences/{token}"


def unsubscribe_url(recipient_kind: str, recipient_id: int, kind: str) -> str:
    token = recipient_token(recipient_kind, recipient_id)
    return f"{_base_url()}/notifications/unsubscribe/{token}/{kind}"
