"""Logins: argon2 password hashes, bearer tokens, and role checks for views."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from coordinator.database import utcnow
from coordinator.errors import DomainError, Forbidden, NotFound
from coordinator.extensions import db, login_manager
from coordinator.people.models import ApiToken, User


def _hasher() -> PasswordHasher:
    """argon2id with the app's cost settings (tests use a cheap profile)."""
    config = current_app.config
    key = (config["PASSWORD_HASH_TIME_COST"], config["PASSWORD_HASH_MEMORY_KIB"])
    cached = current_app.extensions.get("password_hasher")
    if cached is None or cached[0] != key:
        hasher = PasswordHasher(time_cost=key[0], memory_cost=key[1])
        # Verified when the email is unknown, so a miss costs what a wrong password costs.
        cached = (key, hasher, hasher.hash("not-a-real-password"))
        current_app.extensions["password_hasher"] = cached
    return cached[1]


def _dummy_hash() -> str:
    _hasher()
    return current_app.extensions["password_hasher"][2]


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """True when the password matches; the same work whether or not the user exists."""
    stored = user.password_hash if user is not None and user.password_hash else None
    try:
        matched = _hasher().verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored is not None


# Characters of a bearer token kept in clear to tell tokens apart (36 of its 256 bits).
TOKEN_PREFIX_LENGTH = 6


def token_digest(token: str) -> str:
    """Tokens are stored as SHA-256: high-entropy secrets need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(email: str, password: str) -> tuple[str, datetime]:
    """Check credentials and create a bearer token (flushes; the caller commits)."""
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if not verify_password(user, password) or not user.active:
        raise Unauthorized(
            _l("Wrong email or password."),
            code="invalid_credentials",
        )
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"])
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=token_digest(token),
            prefix=token[:TOKEN_PREFIX_LENGTH],
            expires_at=expires_at,
        )
    )
    db.session.flush()
    return token, expires_at


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row.user if row.user.active else None


def bearer_token(req) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _load_user_from_request(req) -> User | None:
    token = bearer_token(req)
    return user_for_token(token) if token else None


def _live_tokens_of(user: User) -> sa.Select:
    return sa.select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow()
    )


def own_tokens(user: User, limit: int, offset: int) -> tuple[list[ApiToken], int]:
    """The user's live bearer tokens, newest first, and how many there are."""
    query = _live_tokens_of(user)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def revoke_own_token(user: User, token_id: int) -> None:
    """Revoke one of the user's live tokens (flushes; the caller commits). Another's,
    an unknown, a revoked or an expired token: the same 404, so ids reveal nothing."""
    token = db.session.scalar(_live_tokens_of(user).where(ApiToken.id == token_id))
    if token is None:
        raise NotFound(_l("Token not found."))
    token.revoked_at = utcnow()
    db.session.flush()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(_load_user_from_session)
    login_manager.request_loader(_load_user_from_request)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page says enough
    # "basic", not "strong": strong drops the login (and deletes the remember cookie)
    # whenever the address or User-Agent changes, which a phone moving between Wi-Fi and
    # mobile data (carrier-grade NAT) does all day. Logins are ended server-side instead
    # (coordinator.people.logins); basic only marks a moved session as not fresh.
    login_manager.session_protection = "basic"


def _load_user_from_session(token: str) -> User | None:
    """Page sessions (cookies) log in pages only: the API takes bearer tokens, so a
    forged cross-site request cannot ride on a volunteer's cookie."""
    if request.path.startswith("/api/"):
        return None
    from coordinator.people.logins import load_user  # logins builds on this module

    return load_user(token)


def authenticated_user() -> User | None:
    """The caller, from a bearer token or a page session; None when anonymous."""
    return current_user if current_user.is_authenticated else None


def require_user() -> User:
    user = authenticated_user()
    if user is None:
        if request.headers.get("Authorization"):
            raise Unauthorized(_l("Invalid or expired token."))
        raise Unauthorized(_l("Authentication required."))
    return user


def require_role(*roles: str) -> User:
    """The caller if they hold one of `roles` (admins count as organizers)."""
    user = require_user()
    if not user.has_role(*roles):
        raise Forbidden(_l("You are not allowed to do this."))
    return user


_P = ParamSpec("_P")
_R = TypeVar("_R")


def user_required(view: Callable[_P, _R]) -> Callable[_P, _R]:
    """View decorator form of require_user. Above `blp.arguments`, a stranger gets 401
    before the body is read (and learns nothing from its validation)."""

    @functools.wraps(view)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        require_user()
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """View decorator form of require_role (also above `blp.arguments`)."""

    def decorator(view: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(view)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            require_role(*roles)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def is_organizer(user: User | None) -> bool:
    return bool(user and user.has_role("organizer"))
