"""Page logins that the server can end.

Flask-Login's "alternative token" pattern: `User.get_id()` returns the secret of one
login (a LoginSession row, stored as SHA-256), so the Flask session and the remember
cookie carry that secret instead of the user id, and the user loader accepts it only
while its row is neither revoked nor expired. A new login gets a new secret; logging out
revokes this browser's login; a password change or "sign out everywhere" revokes every
login of the user (and their API tokens).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from flask_login.utils import decode_cookie

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.auth import token_digest
from coordinator.people.models import ApiToken, LoginSession, User

# Flask-Login's names for what it keeps in the Flask session.
_USER_KEY, _FRESH_KEY, _REMEMBER_KEY = "_user_id", "_fresh", "_remember"


def _remember_cookie_token() -> str | None:
    """The secret in this request's remember cookie, if its signature holds."""
    name = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    cookie = request.cookies.get(name)
    return decode_cookie(cookie) if cookie else None


def _browser_tokens() -> set[str]:
    """The login secrets this browser presents (session and remember cookie)."""
    tokens = {session.get(_USER_KEY), _remember_cookie_token()}
    return {token for token in tokens if isinstance(token, str) and token}


def _revoke(*conditions: sa.ColumnElement[bool]) -> None:
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.revoked_at.is_(None), *conditions)
        .values(revoked_at=utcnow())
    )


def live_login(token: str) -> LoginSession | None:
    """The login a secret names, if it is neither revoked nor expired and its user active."""
    login = db.session.scalar(
        sa.select(LoginSession).where(LoginSession.token_hash == token_digest(token))
    )
    if login is None or login.revoked_at is not None or login.expires_at <= utcnow():
        return None
    return login if login.user.active else None


def load_user(token: str) -> User | None:
    """Flask-Login's user loader (session and remember cookie). A dead secret makes the
    caller anonymous and is dropped from the session, and its remember cookie deleted."""
    login = live_login(token)
    if login is None:
        session.pop(_USER_KEY, None)
        session.pop(_FRESH_KEY, None)
        if _remember_cookie_token() is not None:
            session[_REMEMBER_KEY] = "clear"  # Flask-Login deletes the cookie after the request
        return None
    login.user.login_token = token
    g.page_login = login
    return login.user


def log_in(user: User, *, remember: bool) -> None:
    """Start a page login for this browser (ending the one it had); the caller commits."""
    _revoke(LoginSession.token_hash.in_([token_digest(t) for t in _browser_tokens()]))
    now = utcnow()
    # A user's dead logins go as they make a new one: the table holds live logins, mostly.
    db.session.execute(
        sa.delete(LoginSession).where(
            LoginSession.user_id == user.id,
            sa.or_(LoginSession.revoked_at.is_not(None), LoginSession.expires_at <= now),
        )
    )
    token = secrets.token_urlsafe(32)
    login = LoginSession(
        user_id=user.id,
        token_hash=token_digest(token),
        remember=remember,
        created_at=now,
        expires_at=now + current_app.config["REMEMBER_COOKIE_DURATION"],
    )
    db.session.add(login)
    db.session.flush()
    user.login_token = token
    g.page_login = login
    if not remember and _remember_cookie_token() is not None:
        session[_REMEMBER_KEY] = "clear"  # a remember cookie of an earlier login goes
    login_user(user, remember=remember)


def log_out() -> None:
    """End this browser's login server-side and forget it here; the caller commits."""
    tokens = _browser_tokens()
    if tokens:
        _revoke(LoginSession.token_hash.in_([token_digest(t) for t in tokens]))
    logout_user()


def sign_out_everywhere(user: User) -> None:
    """End every page login of `user` and revoke their API tokens; the caller commits."""
    _revoke(LoginSession.user_id == user.id)
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_other_logins(user: User, *, api_tokens: bool) -> None:
    """After a password change: every other login ends, this browser continues with a new
    secret (as remembered as before); API tokens too when asked. The caller commits."""
    current = g.get("page_login")
    remember = bool(current is not None and current.remember)
    if api_tokens:
        sign_out_everywhere(user)
    else:
        _revoke(LoginSession.user_id == user.id)
    log_in(user, remember=remember)
