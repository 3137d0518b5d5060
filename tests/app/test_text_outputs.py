"""Any text, through the input rule, into every line-based output: the feeds (icalendar
and vobject; ical.js once over the nastiest values), a mail with its .ics attachment
(`email.message_from_bytes` + icalendar) and the CSV exports (`csv`). Every output
parses and gives the text back (after the input rule of `coordinator.text`); text that
never went through the rule (an old row) still renders and parses."""

from __future__ import annotations

import csv
import email
import io
import re
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from coordinator.calendar import feeds
from coordinator.notifications import compose
from coordinator.notifications.content import Letter, SessionFacts
from coordinator.notifications.recipients import Recipient
from coordinator.progress.exports import hours_csv, safe_cell
from coordinator.progress.hours import Hours
from coordinator.text import TextRefused, clean_text, header_text, ical_text
from tests.calendar.test_parsers import _ical_js, needs_node

NASTY = [
    "\r", "\n", "\r\n", "\t", "\x00", "\x01", "\x0b", "\x1b", "\x7f", "\x85", "\u2028",
    "\u2029", "\ud800", "\udfff", "\\", "\\n", ",", ";", ":", '"', "=", "+", "-", "@",
    "e\u0302\u0323", "ệ", "Đ", "😀", "{title}", " ",
]  # fmt: skip
TEXT = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=()))),
    max_size=8,
).map("".join)
START = datetime(2031, 3, 4, 11, 0, tzinfo=UTC)


def typed(raw: str, *, multiline: bool) -> str:
    """What the input rule stores for `raw`; for a refused value, asserts why and goes on
    with the characters it names taken out (as the person would retype it)."""
    try:
        value = clean_text(raw, multiline=multiline)
    except TextRefused as refused:
        assert "\x00" in raw if refused.code == "nul" else re.search("[\x01-\x1f\x7f]", raw)
        cut = "\x00" if multiline else "[\x00-\x1f\x7f]"
        value = clean_text(re.sub(cut, "", raw), multiline=multiline)
    assert clean_text(value, multiline=multiline) == value  # one form: idempotent, NFC
    if not multiline:
        assert not re.search("[\x00-\x1f\x7f\x85\u2028\u2029]", value)
    return value


# The feed's words as queries.feed_words("vi") gives them (the module itself has none).
WORDS = feeds.FeedWords(
    cancelled_prefix="ĐÃ HỦY: ",
    cancelled="Buổi học đã bị hủy: %(reason)s",
    role="Vai trò: %(role)s",
    squad_mates="Cùng đội: %(names)s",
    lead="Giảng viên chính: %(name)s — %(contact)s",
    starting_soon="Sắp đến giờ: %(title)s",
    organizer="Ban tổ chức Bình dân học vụ số",
    roles={"lead": "Giảng viên chính", "helper": "Hỗ trợ", "interpreter": "Phiên dịch"},
)


def _feed(title: str, venue: str, name: str, reason: str) -> feeds.Feed:
    lead = feeds.Person(first_name=feeds.first_name(name), role="lead", full_name=name)
    event = feeds.FeedEvent(
        session_id=7,
        title=title,
        description=reason,
        venue=venue,
        ward_name="Phường Kim Liên",
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        status="cancelled",
        cancel_reason=reason,
        sequence=2,
        changed_at=START - timedelta(days=1),
        role="helper",
        mates=(lead,),
        lead=lead,
    )
    return feeds.Feed(
        uid="test-feed",
        name=title,
        description=venue,
        events=(event,),
        base_url="https://squads.example.vn",
        timezone="Asia/Ho_Chi_Minh",
        organizer_email="ban-to-chuc@squads.example.vn",
        words=WORDS,
        alarm_minutes=120,
    )


def _as_text(value: str) -> str:
    """What a TEXT value reads back as: the same text as ical_text keeps it."""
    return str(ical_text(value))


def check_calendar(body: bytes, title: str, venue: str, name: str, reason: str) -> None:
    calendar = Calendar.from_ical(body)
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == _as_text(f"ĐÃ HỦY: {title} (Hỗ trợ)")
    assert str(event["LOCATION"]) == _as_text(f"{venue}, Phường Kim Liên")
    description = str(event["DESCRIPTION"])
    assert description.startswith(_as_text(f"Buổi học đã bị hủy: {reason}".rstrip()))
    assert _as_text(name) in description
    parsed = vobject.readOne(body.decode())
    assert parsed.contents["x-wr-calname"][0].value == _as_text(title)
    assert parsed.contents["name"][0].value == _as_text(title)
    assert parsed.contents["x-wr-caldesc"][0].value == _as_text(venue)
    assert parsed.vevent.summary.value == str(event["SUMMARY"])
    assert parsed.vevent.location.value == str(event["LOCATION"])


def check_csv(name: str, ward: str) -> None:
    text = "".join(hours_csv("volunteer", [Hours(id=1, name=name, home_ward=ward, minutes=90)]))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows[1][:3] == ["1", safe_cell(name), safe_cell(ward)]
    assert len(rows) == 2
    squads = "".join(hours_csv("squad", [Hours(id=2, name=name)]))  # streamed in chunks
    assert list(csv.reader(io.StringIO(squads.lstrip("\ufeff"), newline="")))[1][1] == (
        safe_cell(name)
    )


def _words(value: str) -> str:
    return "".join(value.split())


def check_mail(title: str, venue: str, name: str, reason: str, calendar: bytes) -> None:
    letter = Letter(
        notification_id=9,
        kind="session_cancelled",
        recipient=Recipient("volunteer", 3, "lan@example.vn", name, "vi"),
        written_at=START - timedelta(days=1),
        preferences_url="https://squads.example.vn/notifications/preferences/x",
        session=SessionFacts(
            id=7,
            title=title,
            starts_at=START,
            ends_at=START + timedelta(hours=2),
            venue=venue,
            ward_name="Phường Kim Liên",
            cancel_reason=reason,
            url="https://squads.example.vn/sessions/7",
        ),
        role="Hỗ trợ",
        calendar=calendar,
    )
    wire = compose.build(letter).as_bytes(policy=policy.SMTP)
    message = email.message_from_bytes(wire, policy=policy.default)
    # One line each; RFC 2047 folding may move a space between encoded words.
    assert _words(message["Subject"]) == _words(header_text(f"Đã hủy: {title}"))
    assert _words(message["To"].addresses[0].display_name) == _words(header_text(name))
    assert message["To"].addresses[0].addr_spec == "lan@example.vn"
    assert message.get_body(("plain",)).get_content()
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_content().encode() == calendar
    check_calendar(part.get_content().encode(), title, venue, name, reason)


@pytest.mark.slow  # about 5 s
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=TEXT, venue=TEXT, name=TEXT, reason=TEXT)
def test_any_text_reaches_feeds_mails_and_csv_intact(app, title, venue, name, reason):
    title, venue, reason = (typed(v, multiline=True) for v in (title, venue, reason))
    name = typed(name, multiline=False)
    body = feeds.render(_feed(title, venue, name, reason))
    check_calendar(body, title, venue, name, reason)
    check_mail(title, venue, name, reason, body)
    check_csv(name, venue)


@pytest.mark.slow  # about 3 s
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=TEXT, venue=TEXT, name=TEXT, reason=TEXT)
def test_text_that_skipped_the_rule_still_renders_and_parses(app, title, venue, name, reason):
    """An old row, or a value written by hand into the database (which cannot hold a
    lone surrogate: UTF-8 cannot encode one)."""
    title, venue, name, reason = (
        re.sub("[\ud800-\udfff]", "?", v) for v in (title, venue, name, reason)
    )
    body = feeds.render(_feed(title, venue, name, reason))
    check_calendar(body, title, venue, name, reason)
    check_mail(title, venue, name, reason, body)


@needs_node
def test_ical_js_reads_the_nastiest_values():
    values = [typed(f"a{n}b{n}c", multiline=True) for n in NASTY] + [
        typed("Buổi học\nđiện thoại; Zalo, VNeID\\n", multiline=True)
    ]
    events = []
    for index, value in enumerate(values):
        feed = _feed(value, value, typed(value.replace("\n", " "), multiline=False), value)
        [event] = feed.events
        events.append(feeds.FeedEvent(**{**event.__dict__, "session_id": index}))
    feed = _feed(values[-1], values[-1], "Lan", values[-1])
    feed = feeds.Feed(**{**feed.__dict__, "events": tuple(events)})
    parsed = _ical_js(feeds.render(feed))
    # ical.js gives X-WR-CALNAME as it is written (escaped), as an unknown property.
    assert parsed["name"] == ical_text(values[-1]).to_ical().decode()
    by_uid = {e["uid"]: e for e in parsed["events"]}
    for index, value in enumerate(values):
        event = by_uid[f"session-{index}@squads.example.vn"]
        assert event["summary"] == f"ĐÃ HỦY: {value} (Hỗ trợ)", repr(value)
        assert event["location"] == f"{value}, Phường Kim Liên", repr(value)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
