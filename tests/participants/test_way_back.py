"""A way back to a registration without an account: the private link shown after
registering (cancel after a confirmation, or a new calendar link), and the links mailed
again to the email given (a real SMTP server, a real RQ worker), the same answer either
way."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import g
from flask_babel import refresh

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from tests.matching.test_runs import work
from tests.page_helpers import csrf_token as page_csrf_token
from tests.page_helpers import text

MANAGE = re.compile(r'href="(/registrations/[^"/?]+)"')


def same_words(response, typed: str) -> str:
    """The page's <main> without what was typed and without the per-render tokens."""
    main = text(response).split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r'value="[^"]*"', "", main.replace(typed, "X"))


def csrf_token(client, path: str) -> str:
    g.pop("csrf_token", None)
    refresh()
    return page_csrf_token(client, path)


def register(client, session_id: int, **overrides):
    path = f"/sessions/{session_id}/register"
    data = {
        "full_name": "Đỗ Minh Khôi",
        "ward": "kim_lien",
        "target_group": "students",
        "for_whom": "other",
        "guardian_contact": "Me.Khoi@example.vn",
        "consent": "y",
        **overrides,
    }
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_the_private_link_cancels_after_a_confirmation(client, make_session):
    session = make_session()
    done = register(client, session["id"])
    assert done.status_code == 200
    manage = MANAGE.search(text(done)).group(1)

    page = client.get(manage)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert session["title"] in text(page) and "Bạn đã có chỗ." in text(page)

    fresh = client.post(f"{manage}/calendar-link", data={"csrf_token": csrf_token(client, manage)})
    assert fresh.status_code == 200 and "/calendar/p/" in text(fresh)

    confirm = text(client.get(f"{manage}?confirm=cancel"))
    assert "Hủy lượt đăng ký này?" in confirm
    db.session.rollback()
    assert db.session.scalar(sa.select(Registration.status)) == "registered"
    cancelled = client.post(f"{manage}/cancel", data={"csrf_token": csrf_token(client, manage)})
    assert cancelled.status_code == 200 and "Đã hủy đăng ký" in text(cancelled)
    db.session.rollback()
    assert db.session.scalar(sa.select(Registration.status)) == "cancelled"
    assert client.get(manage).status_code == 404  # a cancelled registration: no way back
    assert client.get("/registrations/not-a-token").status_code == 404


def test_the_links_are_mailed_again_to_the_email_given(client, make_session, smtp, redis_client):
    session = make_session()
    assert register(client, session["id"]).status_code == 200
    work(redis_client)
    smtp.messages.clear()

    def ask(email: str):
        path = "/registrations/find"
        return client.post(path, data={"contact": email, "csrf_token": csrf_token(client, path)})

    known, unknown = ask("me.khoi@EXAMPLE.vn"), ask("ai-do@example.vn")
    assert known.status_code == unknown.status_code == 200
    assert same_words(known, "me.khoi@EXAMPLE.vn") == same_words(unknown, "ai-do@example.vn")
    work(redis_client)
    [message] = smtp.messages
    assert message["To"] == "Me.Khoi@example.vn"
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"https?://[^/\s]+(/registrations/\S+)", body).group(1)
    assert session["title"] in body
    assert client.get(link).status_code == 200
