"""One language per message in notifications, the matcher's reasons, calendar feeds and
commands (issue 19): the words live in the catalogue, and each reader gets theirs — the
recipient's for a message composed in a job, the feed owner's, the terminal's."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_request_context
from flask_babel import refresh
from icalendar import Calendar

from coordinator.bookings.models import Assignment
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.matching.reasons import reasons_in
from coordinator.notifications import answers, compose, content, short
from coordinator.notifications.content import DigestEntry, Letter, SessionFacts
from coordinator.notifications.recipients import Recipient
from coordinator.notifications.texts import LEGACY_REASONS, ONE_TAP_REASON
from coordinator.people.models import User, Volunteer
from coordinator.sessions.models import TrainingSession
from tests.notifications.notification_helpers import (
    body_text,
    calendar_part,
    session_starting,
    sign_up,
    work,
)
from tests.page_helpers import log_in, text

ROOT = Path(__file__).resolve().parents[2]
SCANNED = (
    "coordinator/notifications",
    "coordinator/calendar",
    "coordinator/matching",
    "coordinator/cli.py",
    "coordinator/geography/cli.py",
    "jobs",
)
# "Vietnamese words / English words" in one string: how messages were written before.
BILINGUAL = re.compile(r"[^\x00-\x7f][^\n]* / [A-Za-z]")
VIETNAMESE = re.compile(
    r"[ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]"
)
PROPER_NAME = "Bình dân học vụ số"  # the programme's name, the same in every language
WHEN = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)  # Tuesday 18:00 in Hà Nội


def _strings(path: Path):
    """(line, text) of every string in the code, docstrings aside (they are for us)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value


def _files():
    for name in SCANNED:
        path = ROOT / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def test_no_message_in_these_paths_is_written_in_two_languages_or_in_vietnamese():
    """The words are English msgids; Vietnamese lives in translations/vi only (the old
    rows a migration would meet are named once, in LEGACY_REASONS)."""
    found = []
    for path in _files():
        for line, value in _strings(path):
            if value in LEGACY_REASONS:
                continue
            if BILINGUAL.search(value) or VIETNAMESE.search(value.replace(PROPER_NAME, "")):
                found.append(f"{path.relative_to(ROOT)}:{line}: {value!r}")
    assert found == []


def _recipient(locale: str, name: str = "Lan") -> Recipient:
    return Recipient("volunteer", 1, "lan@example.vn", name, locale, "+84912345678")


def _letter(locale: str, kind: str = "proposal", **extra) -> Letter:
    facts = SessionFacts(
        id=7,
        title="Tin học cơ bản",
        starts_at=WHEN,
        ends_at=WHEN + timedelta(hours=2),
        venue="Nhà văn hóa",
        ward_name="Phường Kim Liên",
        cancel_reason=None,
        url="https://squads.example.vn/sessions/7",
    )
    return Letter(
        notification_id=3,
        kind=kind,
        recipient=_recipient(locale),
        written_at=WHEN - timedelta(days=3),
        preferences_url="https://squads.example.vn/p",
        session=facts,
        **extra,
    )


def _proposal(locale: str) -> Letter:
    return _letter(
        locale,
        reasons=("distance|0", "week|2", "cùng đội với người đã nhận / same squad as those booked"),
        answer_urls={"accept": "https://x/a", "decline": "https://x/d"},
        answer_expires_at=WHEN - timedelta(days=1),
    )


def _body(message) -> str:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    return parsed.get_body(("plain",)).get_content()


def test_an_email_is_written_in_its_recipients_language_in_a_jobs_context(app):
    assert not has_request_context()  # as in an RQ job: the app's context, no request

    vietnamese, english = compose.build(_proposal("vi")), compose.build(_proposal("en"))

    assert vietnamese["Subject"] == "Mời bạn tham gia: Tin học cơ bản"
    assert english["Subject"] == "Can you help? Tin học cơ bản"
    assert vietnamese["Content-Language"] == "vi" and english["Content-Language"] == "en"
    vi, en = _body(vietnamese), _body(english)
    for words in ("Chào Lan,", "Vì sao là bạn", "cùng phường", "2 buổi tuần này", "Xác nhận"):
        assert words in vi
    assert "Thứ Ba, 08/12/2026, 18:00–20:00" in vi
    assert "cùng đội với người đã nhận" in vi  # an old two-language reason: one half
    for words in ("Hello Lan,", "Why you", "same ward", "2 sessions this week", "Confirm"):
        assert words in en
    assert "Tuesday 8 December 2026, 18:00–20:00" in en
    assert "same squad as those booked" in en
    assert " / " not in vi + en
    assert "Why you" not in vi and "Vì sao" not in en


@pytest.mark.parametrize(("days", "words"), [(1, "1 day away"), (3, "3 days away")])
def test_the_unfilled_alert_counts_days_in_english_forms(app, days, words):
    letter = replace(
        _letter("en", "unfilled_roles"),
        written_at=WHEN - timedelta(days=days, minutes=1),
        unfilled=(("Helper", 0, 2),),
    )
    body = compose.words(letter)
    assert body["intro"] == [f"The session is {words} and still needs people:"]
    assert body["items"] == ["Helper: 0 of 2 confirmed"]
    vietnamese = compose.words(replace(letter, recipient=_recipient("vi")))
    assert vietnamese["intro"] == [f"Buổi học còn {days} ngày nữa nhưng vẫn thiếu người:"]


def test_a_worker_writes_each_volunteer_in_their_own_language(
    client, make_session, make_volunteer, redis_client, smtp, clock
):
    """Through the real RQ job: the same event, two recipients, two languages."""
    session = session_starting(make_session, clock.now + timedelta(days=10))
    vi_id, vi_headers = make_volunteer(email="vi@example.vn")
    en_id, en_headers = make_volunteer(email="en@example.vn")
    db.session.get(Volunteer, en_id).locale = "en"
    db.session.commit()
    sign_up(client, session["id"], vi_headers)
    sign_up(client, session["id"], en_headers)
    work(redis_client)

    [vietnamese], [english] = smtp.to("vi@example.vn"), smtp.to("en@example.vn")
    assert vietnamese["Subject"] == f"Đã xác nhận: {session['title']}"
    assert english["Subject"] == f"Confirmed: {session['title']}"
    assert "Bạn đã có chỗ trong buổi học này" in body_text(vietnamese)
    assert "You have a place in this session" in body_text(english)
    assert "Bạn đã có chỗ" not in body_text(english) and "You have" not in body_text(vietnamese)
    # The attached calendar entry speaks the recipient's language too.
    assert "Role: Helper" in _ics_description(english)
    assert "Vai trò: Hỗ trợ" in _ics_description(vietnamese)


def _ics_description(message) -> str:
    calendar = Calendar.from_ical(calendar_part(message).get_content())
    [event] = calendar.walk("VEVENT")
    return str(event["DESCRIPTION"])


def test_an_sms_and_a_zalo_message_speak_the_recipients_language(app):
    reminder = {"lead_phone": "+84901234567", "choice_url": "https://x/n/t"}
    vi = short.sms_text(_letter("vi", "reminder_2h", **reminder))
    en = short.sms_text(_letter("en", "reminder_2h", **reminder))

    assert vi.startswith("Còn 2 giờ: Tin học cơ bản. Thứ Ba, 08/12/2026, 18:00–20:00.")
    assert "Giảng viên chính: +84901234567" in vi and "Lead" not in vi
    assert en.startswith("In 2 hours: Tin học cơ bản. Tuesday 8 December 2026, 18:00–20:00.")
    assert "Lead: +84901234567" in en and "Giảng" not in en
    assert len(vi) <= short.SMS_MAX and len(en) <= short.SMS_MAX

    zalo_vi = short.zns_data(replace(_letter("vi", "organizer_digest"), session=None))
    zalo_en = short.zns_data(replace(_letter("en", "organizer_digest"), session=None))
    assert zalo_vi["title"] == "Tổng hợp ngày 05/12/2026: rút lui và từ chối"
    assert zalo_en["title"] == "Digest for 05/12/2026: withdrawals and declines"


def test_old_reasons_and_codes_read_in_one_language(app):
    stored = ["cùng phường / same ward", "distance|1", "week|1", "free|1|18:00-21:00", "Ốm"]
    assert reasons_in("en", stored) == [
        "same ward",
        "neighbouring ward",
        "1 session this week",
        "free Tuesday 18:00-21:00",
        "Ốm",  # what a person typed stays as typed
    ]
    assert reasons_in("vi", stored) == [
        "cùng phường",
        "phường lân cận",
        "1 buổi tuần này",
        "rảnh Thứ Ba 18:00-21:00",
        "Ốm",
    ]


def _digest_line(locale: str, entries) -> str:
    letter = replace(_letter(locale, "organizer_digest"), digest=entries)
    (line,) = compose.words(letter)["items"]
    return line


def test_a_one_tap_withdrawal_reason_reads_in_one_language(client, make_session, make_volunteer):
    session = make_session()
    volunteer_id, headers = make_volunteer(full_name="Trần Thị Hoa")
    signed = client.post(
        f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
    )
    assert signed.status_code == 201, signed.json
    assignment = db.session.get(Assignment, signed.json["id"])
    answers.ACTIONS["reminder_1d"].decline(assignment)  # "Không tham gia được", one tap
    db.session.commit()

    event = db.session.scalar(sa.select(DomainEvent).where(DomainEvent.type == "signup.withdrawn"))
    assert event.reason == ONE_TAP_REASON == "Answered from a message link"  # stored neutral
    # An old row, written when the reason was stored in both languages.
    db.session.add(
        DomainEvent(
            type="signup.withdrawn",
            aggregate_type="session",
            aggregate_id=session["id"],
            payload={**event.payload},
            reason=next(iter(LEGACY_REASONS)),
            occurred_at=event.occurred_at,
        )
    )
    db.session.commit()

    organizer_id = db.session.get(TrainingSession, session["id"]).organizer_id
    entries = content.digest_entries(organizer_id, event.occurred_at + timedelta(minutes=1))
    assert len(entries) == 2
    for entry in entries:
        vi, en = _digest_line("vi", (entry,)), _digest_line("en", (entry,))
        assert "Trần Thị Hoa rút lui" in vi
        assert vi.endswith("Lý do: Trả lời qua liên kết trong tin nhắn")
        assert "Trần Thị Hoa withdrew" in en
        assert en.endswith("Reason: Answered from a message link")

    # The session page's audit, for its organizer, in their language.
    log_in(client, db.session.get(User, organizer_id).email)
    page = text(client.get(f"/organize/sessions/{session['id']}"))
    assert page.count("Trả lời qua liên kết trong tin nhắn") == 2
    assert "Answered from a message link" not in page


def test_a_digest_entry_typed_by_a_person_keeps_its_words(app):
    entry = DigestEntry(
        occurred_at=WHEN,
        session_title="Tin học",
        session_starts_at=WHEN,
        volunteer_name="Hoa",
        role="Helper",
        declined=False,
        late=False,
        reason="Bị ốm / sick",
        expired=False,
    )
    assert _digest_line("en", (entry,)).endswith("Reason: Bị ốm / sick")


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"LANG": "C.UTF-8"}, "Mật khẩu cần ít nhất 10 ký tự."),
        ({"LANG": "vi_VN.UTF-8"}, "Mật khẩu cần ít nhất 10 ký tự."),
        ({"LANG": "en_GB.UTF-8"}, "The password needs at least 10 characters."),
    ],
)
def test_a_command_speaks_the_terminals_language_or_vietnamese(runner, env, words):
    refresh()
    result = runner.invoke(
        args=["create-user", "a@example.vn", "--role", "admin", "--password", "short"], env=env
    )
    assert result.exit_code == 1
    assert words in result.output and " / " not in result.output
