"""Forgotten passwords: a link by email that works once and for PASSWORD_RESET_MINUTES.

The link carries a signed token naming the user and a fingerprint of their current
password hash, so no table is needed: setting a new password changes the hash, which
voids every link sent before (one-time), and the signature's age bounds its life.
Asking for a link records an event (the outbox sends the mail after the commit), and
the page answers the same whether or not the address has an account."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.people.auth import hash_password
from coordinator.people.logins import sign_out_everywhere
from coordinator.people.models import User
from coordinator.people.operations import normalize_email

RESET_REQUESTED = "user.password_reset_requested"
_SALT = "password-reset"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:20]


def request_reset(email: str) -> None:
    """Record that an active account with this address asked for a link (nothing
    otherwise: the caller's answer must not tell the two apart); the caller commits."""
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is not None and user.active:
        outbox.record(RESET_REQUESTED, "user", user.id, actor_id=user.id)


def reset_token(user: User) -> str:
    """A token for the link in the mail."""
    return _serializer().dumps([user.id, _fingerprint(user)])


def valid_minutes() -> int:
    return int(current_app.config["PASSWORD_RESET_MINUTES"])


def reset_link(user: User) -> str:
    """The link for the mail, on PUBLIC_BASE_URL."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/reset-password/{reset_token(user)}"


def user_for_token(token: str) -> User | None:
    """The active user a token names, if it is unexpired and their password unchanged."""
    max_age = valid_minutes() * 60
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=max_age)
    except (BadSignature, ValueError, TypeError):  # expired is a BadSignature too
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or fingerprint != _fingerprint(user):
        return None
    return user


def reset_password(user: User, new_password: str) -> None:
    """Set the new password (voiding the link) and end every login and API token: whoever
    knew the old password is out. The caller commits."""
    user.password_hash = hash_password(new_password)
    sign_out_everywhere(user)
    outbox.record("user.password_reset", "user", user.id, actor_id=user.id)
