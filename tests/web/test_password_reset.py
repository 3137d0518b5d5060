"""Forgot my password: a link by email (a real SMTP server on loopback, the mail sent by a
real RQ worker after the commit) that works once and expires; the page answers the same
whether or not the address has an account."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa
from flask import g
from flask_babel import refresh

from coordinator.extensions import db
from coordinator.people.auth import verify_password
from coordinator.people.models import LoginSession, User
from coordinator.people.password_reset import reset_token, user_for_token
from tests.conftest import PASSWORD
from tests.matching.test_runs import work
from tests.page_helpers import csrf_token as page_csrf_token
from tests.page_helpers import text

NEW = "mat-khau-moi-2026"
LINK = re.compile(r"https?://\S+/reset-password/(\S+)")


def same_words(response, typed: str) -> str:
    """The page's <main> without what was typed and without the per-render tokens."""
    main = text(response).split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r'value="[^"]*"', "", main.replace(typed, "X"))


def csrf_token(client, path: str) -> str:
    g.pop("csrf_token", None)
    refresh()
    return page_csrf_token(client, path)


def ask(client, email: str):
    token = csrf_token(client, "/forgot-password")
    return client.post("/forgot-password", data={"email": email, "csrf_token": token})


def choose(client, link_token: str, new: str = NEW, again: str | None = None):
    path = f"/reset-password/{link_token}"
    data = {"new_password": new, "confirm_password": again or new}
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def mailed_token(smtp, email: str) -> str:
    [message] = smtp.to(email)
    body = message.get_body(("plain",)).get_content()
    match = LINK.search(body)
    assert match, body
    return match.group(1)


def test_a_link_by_email_sets_a_new_password_once(client, make_user, smtp, redis_client):
    user = make_user("volunteer", email="quen@example.vn")
    db.session.commit()

    known = ask(client, "Quen@Example.vn ")
    unknown = ask(client, "khong-co@example.vn")
    assert known.status_code == unknown.status_code == 200
    # The same words either way (only the address typed differs).
    assert same_words(known, "Quen@Example.vn") == same_words(unknown, "khong-co@example.vn")
    assert "Hãy xem hộp thư" in text(known)

    work(redis_client)
    assert [m["To"] for m in smtp.messages] == ["quen@example.vn"]
    assert smtp.messages[0]["Subject"] == "Đặt mật khẩu mới"
    link_token = mailed_token(smtp, "quen@example.vn")

    form = client.get(f"/reset-password/{link_token}")
    assert form.status_code == 200 and 'autocomplete="new-password"' in text(form)
    mismatch = choose(client, link_token, NEW, "khac-han-mat-khau")
    assert mismatch.status_code == 422 and "Hai mật khẩu mới không khớp nhau." in text(mismatch)
    done = choose(client, link_token)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert verify_password(user, NEW) and not verify_password(user, PASSWORD)
    live = db.session.scalars(
        sa.select(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
        )
    ).all()
    assert live == []
    # Once: the same link again is refused, and so is its form.
    assert client.get(f"/reset-password/{link_token}").status_code == 410
    again = {"new_password": "mot-mat-khau-khac", "confirm_password": "mot-mat-khau-khac"}
    again["csrf_token"] = csrf_token(client, "/forgot-password")
    assert client.post(f"/reset-password/{link_token}", data=again).status_code == 410


def test_a_link_expires_and_a_forged_one_is_refused(app, make_user, monkeypatch):
    user = make_user("volunteer", email="het-han@example.vn")
    token = reset_token(user)
    assert user_for_token(token).id == user.id
    assert user_for_token(token + "x") is None
    assert user_for_token("khong-phai-token") is None
    # An hour and a bit later (itsdangerous reads time.time for the signature's age).
    later = time.time() + app.config["PASSWORD_RESET_MINUTES"] * 60 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert user_for_token(token) is None


def test_an_inactive_account_gets_no_mail(client, make_user, smtp, redis_client):
    user = make_user("volunteer", email="nghi@example.vn")
    user.active = False
    db.session.commit()
    assert ask(client, "nghi@example.vn").status_code == 200
    work(redis_client)
    assert smtp.messages == []


def test_bad_input_is_a_field_message(client):
    response = ask(client, "khong-phai-email")
    assert response.status_code == 422
    assert "Error:" not in text(response)
    assert 'aria-invalid="true"' in text(response)
