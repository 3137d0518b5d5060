"""Page logins the server can end: logging out, a password change and "sign out
everywhere" end them for good, whatever cookie a client kept; remember cookies are
random per login, stored as SHA-256 and expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.auth import token_digest
from coordinator.people.models import LoginSession
from tests.conftest import PASSWORD
from tests.page_helpers import csrf_token as page_csrf_token

SCHEDULE = "/me/schedule"
REMEMBER = "remember_token"


@pytest.fixture
def volunteer(make_volunteer):
    """A volunteer's login email (a volunteer can open /me/schedule)."""
    from coordinator.people.models import Volunteer

    volunteer_id, _headers = make_volunteer()
    return db.session.get(Volunteer, volunteer_id).email


def csrf_token(client, path: str) -> str:
    """The token of this client's session: Flask-WTF caches one in g, which the tests'
    app context would carry from one client to the next."""
    g.pop("csrf_token", None)
    return page_csrf_token(client, path)


def log_in(client, email: str, *, remember: bool = False) -> None:
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def fresh_client(app, **cookies):
    """A client that holds only these cookies (a stolen copy, say)."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def opens_schedule(client) -> bool:
    response = client.get(SCHEDULE)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login"), response.headers["Location"]
        return False
    assert response.status_code == 200, response.status_code
    return True


def log_out(client) -> None:
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302


def test_a_session_cookie_copied_before_logout_opens_nothing_after(app, client, volunteer):
    log_in(client, volunteer)
    kept = cookie(client, "session")
    assert opens_schedule(fresh_client(app, session=kept))
    log_out(client)
    assert not opens_schedule(client)
    assert not opens_schedule(fresh_client(app, session=kept))


def test_a_remember_cookie_alone_logs_in_until_logout(app, client, volunteer):
    log_in(client, volunteer, remember=True)
    remembered = cookie(client, REMEMBER)
    assert remembered
    # The browser restarted: no session cookie, only the remember cookie.
    assert opens_schedule(fresh_client(app, **{REMEMBER: remembered}))
    log_out(client)
    assert cookie(client, REMEMBER) is None  # deleted in the browser that logged out
    stolen = fresh_client(app, **{REMEMBER: remembered})
    assert not opens_schedule(stolen)
    assert cookie(stolen, REMEMBER) is None  # and a dead one is deleted where it is shown


def test_remember_cookies_are_random_per_login_and_stored_hashed(app, volunteer):
    first, second = app.test_client(), app.test_client()
    log_in(first, volunteer, remember=True)
    log_in(second, volunteer, remember=True)
    one, two = cookie(first, REMEMBER), cookie(second, REMEMBER)
    assert one != two
    secrets = [value.rpartition("|")[0] for value in (one, two)]
    user_id = db.session.scalar(sa.select(LoginSession.user_id))
    assert all(len(secret) >= 43 and str(user_id) not in secret.split("|") for secret in secrets)
    hashes = set(db.session.scalars(sa.select(LoginSession.token_hash)))
    assert hashes == {token_digest(secret) for secret in secrets}
    # Both browsers stay logged in: a login ends only its own browser's earlier login.
    assert opens_schedule(first) and opens_schedule(second)


def test_logging_in_again_in_the_same_browser_ends_its_previous_login(app, client, volunteer):
    log_in(client, volunteer, remember=True)
    before = cookie(client, REMEMBER)
    log_in(client, volunteer, remember=True)
    assert cookie(client, REMEMBER) != before
    assert not opens_schedule(fresh_client(app, **{REMEMBER: before}))
    assert opens_schedule(client)


def test_an_expired_login_is_refused(app, client, volunteer):
    log_in(client, volunteer, remember=True)
    remembered, session_cookie = cookie(client, REMEMBER), cookie(client, "session")
    db.session.execute(sa.update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert not opens_schedule(fresh_client(app, **{REMEMBER: remembered}))
    assert not opens_schedule(fresh_client(app, session=session_cookie))


def test_a_login_expires_after_the_configured_duration(app, client, volunteer):
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=3)
    log_in(client, volunteer, remember=True)
    login = db.session.scalar(sa.select(LoginSession))
    assert timedelta(days=3) - timedelta(minutes=1) < login.expires_at - utcnow()
    assert login.expires_at - utcnow() <= timedelta(days=3)
    assert login.remember is True


def test_an_old_style_remember_cookie_with_the_user_id_opens_nothing(app, volunteer):
    """Before revision 0004 the cookie carried the user id, signed: never again valid."""
    from flask_login.utils import encode_cookie

    from coordinator.people.models import User

    user = db.session.scalar(sa.select(User).where(User.email == volunteer))
    with app.test_request_context():
        forged = encode_cookie(str(user.id))
    assert not opens_schedule(fresh_client(app, **{REMEMBER: forged}))


def test_an_admin_signs_a_user_out_everywhere(app, client, volunteer, make_user):
    from coordinator.people.models import User

    log_in(client, volunteer, remember=True)
    remembered = cookie(client, REMEMBER)
    admin = app.test_client()
    log_in(admin, make_user("admin").email)
    user_id = db.session.scalar(sa.select(User.id).where(User.email == volunteer))
    response = admin.post(
        f"/admin/users/{user_id}/sign-out",
        data={"csrf_token": csrf_token(admin, "/admin/users")},
    )
    assert response.status_code == 302
    assert "đã bị đăng xuất" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert not opens_schedule(client)
    assert not opens_schedule(fresh_client(app, **{REMEMBER: remembered}))
    assert admin.get("/admin/users").status_code == 200  # the admin is still logged in


def test_signing_out_everywhere_needs_the_csrf_token(app, client, volunteer, make_user):
    from coordinator.people.models import User

    log_in(client, volunteer)
    admin = app.test_client()
    log_in(admin, make_user("admin").email)
    user_id = db.session.scalar(sa.select(User.id).where(User.email == volunteer))
    assert admin.post(f"/admin/users/{user_id}/sign-out").status_code == 400
    assert opens_schedule(client)
