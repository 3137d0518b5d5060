"""The links in messages: a proposal's accept/decline links (once, until they expire),
one-click unsubscribe (RFC 8058) and the preferences page; GET never changes anything."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import refresh

from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.notifications.models import AnswerToken, NotificationOptOut
from tests.notifications.notification_helpers import (
    body_text,
    in_one_language,
    notifications,
    session_starting,
    sign_up,
    visit,
    work,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
EVENINGS = [{"weekday": day, "start": "17:00", "end": "22:00"} for day in range(7)]


def evening_in(days: int) -> datetime:
    day = (utcnow() + timedelta(days=days)).astimezone(HANOI).date()
    return datetime(day.year, day.month, day.day, 18, 30, tzinfo=HANOI)


@pytest.fixture
def proposal(client, make_session, make_volunteer, redis_client, smtp, clock):
    """A session the matcher staffs with a proposal, mailed to the volunteer."""
    volunteer_id, headers = make_volunteer(availability=EVENINGS)
    start = evening_in(9)
    session = session_starting(
        make_session,
        start,
        roles=[{"role": "helper", "count": 1, "required_skills": []}],
    )
    work(redis_client)  # publication -> matching run -> proposal -> message
    [message] = smtp.messages
    links = dict(re.findall(r"^(Xác nhận|Không tham gia được): (\S+)$", body_text(message), re.M))
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.source == "matcher"))
    db.session.commit()
    return {
        "message": message,
        "accept": links["Xác nhận"].removeprefix("http://localhost:5000"),
        "decline": links["Không tham gia được"].removeprefix("http://localhost:5000"),
        "assignment_id": assignment.id,
        "session": session,
        "headers": headers,
    }


def to_volunteers(smtp) -> list:
    """Messages to volunteers (their test addresses are lan<n>@example.vn)."""
    return [m for m in smtp.messages if m["To"].addresses[0].addr_spec.startswith("lan")]


def status_of(assignment_id: int) -> str:
    db.session.expire_all()
    status = db.session.get(Assignment, assignment_id).status
    db.session.commit()
    return status


def test_a_proposal_mail_carries_links_that_accept_once(client, proposal, redis_client):
    message = proposal["message"]
    assert message["Subject"].startswith("Mời bạn tham gia")
    assert "List-Unsubscribe" not in message  # it asks for an answer: not optional
    accept = proposal["accept"]

    page = client.get(accept)
    assert page.status_code == 200
    assert f'<form method="post" action="{accept}">' in page.text
    assert proposal["session"]["title"] in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert status_of(proposal["assignment_id"]) == "proposed"  # looking changes nothing

    done = client.post(accept)
    assert done.status_code == 200 and "Cảm ơn bạn" in done.text
    assert status_of(proposal["assignment_id"]) == "confirmed"

    # The link worked once: again, or the decline link of the same mail, shows the first
    # answer and changes nothing.
    for again in (client.post(accept), client.get(proposal["decline"])):
        assert again.status_code == 200 and "đã được dùng" in again.text
        assert "Bạn đã nhận buổi học" in again.text
        assert 'action="/notifications/answer' not in again.text
    assert "Bạn đã nhận buổi học" in client.post(proposal["decline"]).text
    assert status_of(proposal["assignment_id"]) == "confirmed"

    # Only the token's SHA-256 is stored.
    token = accept.split("/")[3]
    [stored] = db.session.scalars(sa.select(AnswerToken)).all()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(db.session.execute(sa.select(AnswerToken.__table__)).all())
    db.session.commit()

    # Now confirmed, the volunteer gets the reminders of a confirmed booking.
    work(redis_client)
    assert {r.kind for r in notifications(status="scheduled", recipient_kind="volunteer")} == {
        "reminder_7d",
        "reminder_1d",
        "reminder_2h",
    }


def test_the_answer_pages_speak_the_readers_language_only(client, proposal):
    """Vietnamese unless the browser asks for English; never both on one page."""
    accept, session = proposal["accept"], proposal["session"]
    data = (session["title"], session["venue"])
    page = in_one_language(visit(client, accept), "vi", *data)
    assert "Nhận tham gia buổi học?" in page and "Thời gian" in page and "Thứ " in page
    assert "Liên kết chỉ dùng được một lần." in page
    page = in_one_language(visit(client, accept, english=True), "en", *data)
    assert "Will you take this session?" in page and "When" in page and "Role" in page
    assert "Thứ" not in page and " 2026, 18:30–" in page  # the date in English words
    short = accept.split("/")[3]
    page = in_one_language(visit(client, f"/n/{short}", english=True), "en", *data)
    assert "Confirm" in page and "Can't make it" in page

    done = visit(client, accept, english=True, post=True)
    page = in_one_language(done, "en")
    assert "Thank you! You have taken the session." in page
    again = in_one_language(visit(client, accept), "vi")
    assert "Liên kết này đã được dùng" in again and "Bạn đã nhận buổi học" in again

    bad = f"/notifications/answer/{'A' * 43}/accept"
    assert "Liên kết không đúng" in in_one_language(visit(client, bad), "vi")
    assert "This link is not valid." in in_one_language(visit(client, bad, english=True), "en")


def test_the_decline_link_frees_the_seat(client, proposal):
    assert client.post(proposal["decline"]).status_code == 200
    assert status_of(proposal["assignment_id"]) == "declined"
    staffing = client.get(f"/api/v1/sessions/{proposal['session']['id']}/staffing").json
    assert [(r["role"], r["confirmed"], r["proposed"]) for r in staffing] == [("helper", 0, 0)]


def test_answer_links_refuse_bad_expired_and_overtaken_tokens(client, proposal, clock):
    accept = proposal["accept"]
    token = accept.split("/")[3]
    assert client.get("/notifications/answer/not-a-token/accept").status_code == 404
    assert client.post(f"/notifications/answer/{'A' * 43}/accept").status_code == 404
    assert client.get(f"/notifications/answer/{token}/delete").status_code == 404

    # The volunteer withdrew through the app meanwhile: the link says so, clearly.
    response = client.delete(
        f"/api/v1/signups/{proposal['assignment_id']}", headers=proposal["headers"]
    )
    assert response.status_code == 200
    overtaken = client.post(accept)
    assert overtaken.status_code == 409 and "Không có đề xuất" in overtaken.text

    clock.advance(days=8)  # links last until the hold deadline (answer_by)
    assert client.get(accept).status_code == 410
    assert "hết hạn" in in_one_language(visit(client, accept), "vi")
    assert "This link has expired." in in_one_language(visit(client, accept, english=True), "en")


def test_one_click_unsubscribe_stops_that_kind_only(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    work(redis_client)
    clock.set(start - timedelta(days=7))
    work(redis_client)
    _, reminder = smtp.messages  # the confirmation, the 7-day reminder
    url = reminder["List-Unsubscribe"].strip("<>").removeprefix("http://localhost:5000")

    page = visit(client, url)  # a link scanner's GET must not unsubscribe
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert "Nhắc lịch trước 7 ngày" in in_one_language(page, "vi")
    english = in_one_language(visit(client, url, english=True), "en")
    assert "Stop getting these emails?" in english and "7 days before" in english
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NotificationOptOut)) == 0
    db.session.commit()

    # RFC 8058: the mail client POSTs this body, with no cookie and no CSRF token.
    refresh()  # the tests' app context outlives requests: forget the English above
    response = client.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Bạn sẽ không nhận loại thư này nữa" in in_one_language(response, "vi")
    again = visit(client, url, english=True, post=True)  # twice is the same as once
    assert "You will no longer get these emails" in in_one_language(again, "en")
    opt_outs = db.session.scalars(sa.select(NotificationOptOut)).all()
    assert [(o.recipient_kind, o.kind) for o in opt_outs] == [("volunteer", "reminder_7d")]
    db.session.commit()

    clock.set(start - timedelta(hours=2))
    work(redis_client)
    assert [m["Subject"].split(":")[0] for m in to_volunteers(smtp)] == [
        "Đã xác nhận",
        "Còn 7 ngày",
        "Ngày mai",
    ]

    token = url.split("/")[3]
    assert client.post(f"/notifications/unsubscribe/{token}x/reminder_1d").status_code == 404
    assert client.post(f"/notifications/unsubscribe/{token}/organizer_digest").status_code == 404
    assert client.post(f"/notifications/unsubscribe/{token}/no_such_kind").status_code == 404


def test_preferences_page_turns_each_kind_on_or_off(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    start = clock.now + timedelta(days=10)
    session = session_starting(make_session, start)
    _, headers = make_volunteer()
    sign_up(client, session["id"], headers)
    work(redis_client)
    clock.set(start - timedelta(days=7))
    work(redis_client)
    url = re.search(r"/notifications/preferences/\S+", body_text(smtp.messages[0])).group(0)

    page = visit(client, url)
    assert page.status_code == 200 and "Tôi muốn nhận" in in_one_language(page, "vi")
    english = in_one_language(visit(client, url, english=True), "en")
    assert "I want to get" in english and "Sent by" in english
    boxes = re.findall(r'name="kind" value="(\w+)"( checked)?', page.text)
    assert [code for code, _ in boxes] == [
        "reminder_7d",
        "reminder_1d",
        "reminder_2h",
        "session_changed",
        "session_cancelled",
        "waitlist_promoted",
        "proposal",
        "proposal_expired",
        "assigned",
        "booking_confirmed",
        "cover_offer",
        "cover_found",
        "attendance_ask",
    ]
    assert all(checked for _, checked in boxes)

    kept = ["reminder_7d", "session_changed", "session_cancelled", "proposal"]
    refresh()  # the tests' app context outlives requests: forget the English above
    saved = client.post(url, data={"kind": kept})
    assert saved.status_code == 200 and "Đã lưu." in in_one_language(saved, "vi")
    assert re.findall(r'value="(\w+)" checked', saved.text) == kept

    clock.set(start - timedelta(hours=2))
    work(redis_client)
    assert [m["Subject"].split(":")[0] for m in to_volunteers(smtp)] == [
        "Đã xác nhận",
        "Còn 7 ngày",
    ]
    [skipped] = notifications(kind="reminder_1d")
    assert (skipped.status, skipped.reason) == ("dropped", "opted_out")

    assert client.get("/notifications/preferences/forged.token").status_code == 404


def test_link_tokens_stay_out_of_access_logs(app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    logging.getLogger("werkzeug").info(
        '127.0.0.1 - - "GET /notifications/answer/%s/accept HTTP/1.1" 200 -', "S3cr3tT0k3n"
    )
    logging.getLogger("werkzeug").info(
        '"POST /notifications/unsubscribe/WzAsMV0.sig/reminder_1d HTTP/1.1" 200 -'
    )
    assert "S3cr3tT0k3n" not in caplog.text and "WzAsMV0.sig" not in caplog.text
    assert "/notifications/answer/[redacted]/accept" in caplog.text
