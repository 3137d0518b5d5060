"""/me/password: changing one's password ends the other logins and keeps this one;
errors are shown next to their fields, in Vietnamese first; "sign out everywhere"."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import g
from flask_babel import refresh

from coordinator.extensions import db
from coordinator.people.auth import verify_password
from coordinator.people.models import ApiToken, User
from tests.conftest import PASSWORD
from tests.page_helpers import csrf_token as page_csrf_token
from tests.page_helpers import text

PAGE = "/me/password"
NEW = "mat-khau-moi-2026"


def csrf_token(client, path: str) -> str:
    """This client's token. The tests' app context outlives requests, and Flask-WTF and
    Flask-Babel cache the token and the language in it: forget both first."""
    g.pop("csrf_token", None)
    refresh()
    return page_csrf_token(client, path)


def log_in(client, email: str, password: str = PASSWORD, *, remember: bool = False):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, "/login")}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def change(client, current: str, new: str, again: str | None = None, headers=None):
    data = {
        "current_password": current,
        "new_password": new,
        "confirm_password": new if again is None else again,
        "revoke_api_tokens": "y",
        "csrf_token": csrf_token(client, PAGE),
    }
    return client.post(PAGE, data=data, headers=headers or {})


def checkbox(page: str) -> str:
    return re.search(r'<input[^>]*id="revoke_api_tokens"[^>]*>', page).group(0)


@pytest.fixture
def user(make_user):
    return make_user("organizer")


@pytest.fixture
def logged_in(client, user):
    assert log_in(client, user.email, remember=True).status_code == 302
    return client


def opens(client, path: str = "/organize/") -> bool:
    response = client.get(path)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    return response.status_code == 200


def test_the_page_asks_for_the_current_and_new_password_in_vietnamese(logged_in, user):
    page = text(logged_in.get(PAGE))
    assert "Mật khẩu hiện tại" in page and "Nhập lại mật khẩu mới" in page
    assert page.count('autocomplete="current-password"') == 1
    assert page.count('autocomplete="new-password"') == 2
    assert f'value="{user.email}" autocomplete="username"' in page
    assert "Đăng xuất khỏi mọi thiết bị" in page


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_wrong_current_password_is_a_field_error_in_vietnamese(logged_in, user):
    response = change(logged_in, "not-my-password", NEW)
    assert response.status_code == 422
    page = text(response)
    assert 'id="current_password-error"' in page
    assert "Đây không phải mật khẩu hiện tại của bạn." in page
    assert 'aria-invalid="true"' in page
    db.session.rollback()
    assert verify_password(db.session.get(User, user.id), PASSWORD)


def test_the_same_error_in_english_after_the_language_switch(client, make_user):
    user = make_user("organizer")
    log_in(client, user.email)
    # A logged-in user's saved language (vi by default) wins over the browser's...
    vietnamese = change(client, "not-my-password", NEW, headers={"Accept-Language": "en"})
    assert "Đây không phải" in text(vietnamese)
    # ...and the switch in the header changes it.
    client.post(
        "/language", data={"locale": "en", "next": PAGE, "csrf_token": csrf_token(client, "/")}
    )
    english = text(change(client, "nope", NEW))
    assert "This is not your current password." in english and '<html lang="en">' in english
    assert "New password again" in english


def test_short_and_mismatched_new_passwords_are_field_errors(logged_in):
    short = text(change(logged_in, PASSWORD, "short"))
    assert 'id="new_password-error"' in short and "Từ 10 đến 1024 ký tự." in short
    mismatched = text(change(logged_in, PASSWORD, NEW, again=NEW + "x"))
    assert 'id="confirm_password-error"' in mismatched
    assert "Hai mật khẩu mới không khớp nhau." in mismatched
    same = text(change(logged_in, PASSWORD, PASSWORD))
    assert "Hãy chọn mật khẩu khác với mật khẩu hiện tại." in same


def test_what_was_typed_is_kept_except_the_passwords(logged_in):
    data = {
        "current_password": "wrong-password-typed",
        "new_password": NEW,
        "confirm_password": NEW,
        "csrf_token": csrf_token(logged_in, PAGE),
        # revoke_api_tokens unticked: the choice must survive the failed submission
    }
    response = logged_in.post(PAGE, data=data)
    assert response.status_code == 422
    page = text(response)
    assert "wrong-password-typed" not in page and NEW not in page
    assert "checked" not in checkbox(page)
    assert "checked" in checkbox(text(logged_in.get(PAGE)))  # ticked by default


def test_a_change_ends_the_other_logins_and_keeps_this_one(app, logged_in, user, auth_headers):
    other = app.test_client()
    log_in(other, user.email, remember=True)
    remembered_elsewhere = other.get_cookie("remember_token").value
    old_remember = logged_in.get_cookie("remember_token").value
    headers = auth_headers(user)
    assert opens(other) and opens(logged_in)

    response = change(logged_in, PASSWORD, NEW)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    assert "Đã đổi mật khẩu" in text(logged_in.get(PAGE))
    assert opens(logged_in)  # this browser goes on, with a new secret
    new_remember = logged_in.get_cookie("remember_token").value
    assert new_remember != old_remember
    assert not opens(other)
    for kept in (remembered_elsewhere, old_remember):  # remember tokens from before
        stranger = app.test_client()
        stranger.set_cookie("remember_token", kept)
        assert not opens(stranger)
    survivor = app.test_client()
    survivor.set_cookie("remember_token", new_remember)
    assert opens(survivor)
    assert app.test_client().get("/api/v1/matching/runs", headers=headers).status_code == 401

    db.session.rollback()
    assert not verify_password(db.session.get(User, user.id), PASSWORD)
    assert log_in(app.test_client(), user.email, PASSWORD).status_code == 422
    assert log_in(app.test_client(), user.email, NEW).status_code == 302


def test_api_tokens_survive_a_change_when_unticked(app, logged_in, user, auth_headers):
    headers = auth_headers(user)
    data = {
        "current_password": PASSWORD,
        "new_password": NEW,
        "confirm_password": NEW,
        "csrf_token": csrf_token(logged_in, PAGE),
    }
    assert logged_in.post(PAGE, data=data).status_code == 302
    assert app.test_client().get("/api/v1/matching/runs", headers=headers).status_code == 200


def test_signing_out_everywhere_ends_this_login_too(app, logged_in, user, auth_headers):
    other = app.test_client()
    log_in(other, user.email)
    headers = auth_headers(user)
    response = logged_in.post(
        "/me/sign-out-everywhere", data={"csrf_token": csrf_token(logged_in, PAGE)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Bạn đã đăng xuất trên mọi thiết bị" in text(logged_in.get("/login"))
    assert not opens(logged_in) and not opens(other)
    assert app.test_client().get("/api/v1/matching/runs", headers=headers).status_code == 401
    revoked = db.session.scalars(sa.select(ApiToken.revoked_at)).all()
    assert revoked and all(revoked)
    assert log_in(app.test_client(), user.email).status_code == 302  # the password still works
