"""Feed content (issue 5, requirements 1-4 and 8): calendar and event properties, the
window and the grace period, byte-level iCalendar, and one query per feed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar, Event

from coordinator.calendar import feeds, queries
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from tests.calendar.feed_helpers import (
    LONG_TITLE,
    events_by_uid,
    feed_link,
    parse,
    run_events,
    signup,
)
from tests.page_helpers import log_in, submit

WARD_FEED = "/calendar/wards/kim_lien.ics"


def uid(session: dict) -> str:
    return f"session-{session['id']}@localhost"


def test_calendar_has_the_required_properties_and_a_fixed_uid(client, make_session):
    make_session()
    body = client.get(WARD_FEED).data
    calendar = parse(body)

    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == feeds.PRODID
    assert str(calendar["UID"]) == "feed-ward-kim_lien@localhost"
    assert str(calendar["NAME"]) == "Lịch học Phường Kim Liên"
    assert str(calendar["X-WR-CALNAME"]) == "Lịch học Phường Kim Liên"
    assert "Kim Liên" in str(calendar["X-WR-CALDESC"])
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in body
    # The calendar UID is the feed's, whatever its content.
    make_session(title="Buổi thứ hai")
    db.session.commit()
    run_events()
    assert str(parse(client.get(WARD_FEED).data)["UID"]) == "feed-ward-kim_lien@localhost"


def test_each_event_has_stable_identity_and_every_required_property(client, make_session):
    session = make_session(description="Mang theo điện thoại")
    row = db.session.get(TrainingSession, session["id"])
    event = events_by_uid(client.get(WARD_FEED).data)[uid(session)]

    assert event["DTSTAMP"].dt == row.updated_at.replace(microsecond=0)
    assert event["DTSTAMP"].dt.utcoffset() == timedelta(0)
    assert event["DTSTAMP"].to_ical().endswith(b"Z")
    assert event["LAST-MODIFIED"].dt == event["DTSTAMP"].dt
    assert int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert event["DTEND"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert event["DTSTART"].dt == row.starts_at.replace(microsecond=0)
    assert event["DTEND"].dt == row.ends_at.replace(microsecond=0)
    assert str(event["SUMMARY"]) == "Sử dụng điện thoại thông minh"
    assert str(event["LOCATION"]) == "Nhà văn hóa phường Kim Liên, Phường Kim Liên"
    assert "Mang theo điện thoại" in str(event["DESCRIPTION"])
    assert str(event["URL"]) == f"http://localhost:5000/sessions/{session['id']}"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:lich@localhost"
    assert not event.walk("VALARM")  # reminders belong to private volunteer feeds


def test_a_vtimezone_is_present_for_every_tzid_used(client, make_session):
    make_session()
    body = client.get(WARD_FEED).data
    used = set(re.findall(rb";TZID=([^:;]+)", body))
    defined = set(re.findall(rb"\r\nTZID:([^\r]+)", body))
    assert used == {b"Asia/Ho_Chi_Minh"} and used <= defined
    assert parse(body).get_missing_tzids() == set()


def test_bytes_are_identical_between_requests_and_renders(client, make_session, redis_client):
    for hours in (0, 30, 60):
        make_session(
            starts_at=(utcnow() + timedelta(days=3, hours=hours))
            .replace(microsecond=0)
            .isoformat(),
            ends_at=(utcnow() + timedelta(days=3, hours=hours + 2))
            .replace(microsecond=0)
            .isoformat(),
        )
    first = client.get(WARD_FEED).data
    redis_client.flushdb()  # a cold render, not the cached bytes
    second = client.get(WARD_FEED).data
    assert first == second
    assert feeds.render(queries.ward_feed("kim_lien")) == first


def test_sequence_rises_on_reschedule_and_cancel_and_cancelled_shows_then_drops_out(
    client, make_session, organizer_headers
):
    session = make_session()
    before = events_by_uid(client.get(WARD_FEED).data)[uid(session)]
    new_start = (utcnow() + timedelta(days=9)).replace(microsecond=0)
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(hours=2)).isoformat(),
        },
        headers=organizer_headers,
    )
    assert moved.status_code == 200, moved.json
    run_events()
    after_move = events_by_uid(client.get(WARD_FEED).data)[uid(session)]
    assert int(after_move["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after_move["DTSTART"].dt == new_start
    assert after_move["DTSTAMP"].dt >= before["DTSTAMP"].dt

    cancelled = client.post(
        f"/api/v1/sessions/{session['id']}/cancel",
        json={"reason": "Mất điện"},
        headers=organizer_headers,
    )
    assert cancelled.status_code == 200, cancelled.json
    run_events()
    shown = events_by_uid(client.get(WARD_FEED).data)[uid(session)]
    assert int(shown["SEQUENCE"]) > int(after_move["SEQUENCE"])
    assert str(shown["STATUS"]) == "CANCELLED"
    assert str(shown["SUMMARY"]) == "ĐÃ HỦY: Sử dụng điện thoại thông minh"
    assert "Mất điện" in str(shown["DESCRIPTION"])

    cancelled_at = db.session.get(TrainingSession, session["id"]).cancelled_at
    within = queries.ward_feed("kim_lien", now=cancelled_at + timedelta(days=13))
    after = queries.ward_feed("kim_lien", now=cancelled_at + timedelta(days=14, seconds=1))
    assert [e.session_id for e in within.events] == [session["id"]]
    assert after.events == ()


def test_feeds_cover_thirty_days_back_to_a_year_ahead(client, make_session):
    soon = make_session()  # starts in 7 days
    far = make_session(
        starts_at=(utcnow() + timedelta(days=366)).replace(microsecond=0).isoformat(),
        ends_at=(utcnow() + timedelta(days=366, hours=2)).replace(microsecond=0).isoformat(),
    )
    shown = set(events_by_uid(client.get(WARD_FEED).data))
    assert uid(soon) in shown and uid(far) not in shown

    def ids(days_later: int) -> list[int]:
        feed = queries.ward_feed("kim_lien", now=utcnow() + timedelta(days=days_later))
        return [e.session_id for e in feed.events]

    assert soon["id"] in ids(36)  # started 29 days before that "now"
    assert soon["id"] not in ids(38)  # 31 days before: out of the window
    assert far["id"] in ids(2)  # now within a year


def test_icalendar_traps_are_avoided(client, make_session):
    """Calendar.new()/Event.new() would add a random UID and a DTSTAMP of now; a
    REFRESH-INTERVAL needs VALUE=DURATION; a timedelta TTL prints as 1:00:00; and
    validate() does not look at events, so events are checked here."""
    assert "UID" in Calendar.new() and "DTSTAMP" in Event.new()  # the trap exists
    make_session()
    body = client.get(WARD_FEED).data
    assert b"1:00:00" not in body
    assert b"REFRESH-INTERVAL:PT1H" not in body
    calendar = parse(body)
    calendar.validate()
    for event in calendar.walk("VEVENT"):
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "SUMMARY", "STATUS"):
            assert name in event, name
        assert re.fullmatch(r"session-\d+@localhost", str(event["UID"]))


def test_bytes_use_crlf_fold_at_75_octets_keep_utf8_whole_and_escape_text(client, make_session):
    description = "Dòng một, có dấu phẩy; dấu chấm phẩy\\gạch chéo\nDòng hai: Đường Láng"
    session = make_session(title=LONG_TITLE, description=description)
    body = client.get(WARD_FEED).data

    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in body.replace(b"\r\n", b"")  # no bare CR
    lines = body.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the long title was folded
    for line in lines:
        line.decode("utf-8")  # raises if a fold split a multi-byte character
    unfolded = body.replace(b"\r\n ", b"").decode()
    escaped_title = LONG_TITLE.replace(",", "\\,").replace(";", "\\;")
    assert f"SUMMARY:{escaped_title}\r\n" in unfolded
    assert (
        "Dòng một\\, có dấu phẩy\\; dấu chấm phẩy\\\\gạch chéo\\nDòng hai: Đường Láng" in unfolded
    )
    event = events_by_uid(body)[uid(session)]
    assert str(event["SUMMARY"]) == LONG_TITLE
    assert str(event["DESCRIPTION"]).startswith(description)


def test_private_volunteer_feed_shows_role_venue_mates_lead_contact_and_a_reminder(
    client, make_session, make_volunteer
):
    session = make_session()
    lead_id, lead_headers = make_volunteer(
        full_name="Trần Văn Hùng", phone="0901234567", email="hung@example.vn", is_expert=True
    )
    mate_id, mate_headers = make_volunteer(full_name="Lê Thị Mai")
    me_id, me_headers = make_volunteer(full_name="Phạm Minh Đức")
    db.session.get(Volunteer, mate_id).locale = "en"  # Mai reads English
    db.session.commit()
    signup(client, session["id"], lead_headers, role="lead")
    signup(client, session["id"], mate_headers)
    signup(client, session["id"], me_headers)
    run_events()

    event = events_by_uid(client.get(feed_link(client, me_headers)).data)[uid(session)]
    description = str(event["DESCRIPTION"])
    assert str(event["SUMMARY"]) == "Sử dụng điện thoại thông minh (Hỗ trợ)"
    assert "Vai trò: Hỗ trợ" in description
    assert str(event["LOCATION"]).startswith("Nhà văn hóa phường Kim Liên")
    assert "Cùng đội: Hùng, Mai" in description
    assert "Giảng viên chính: Trần Văn Hùng" in description
    assert " / " not in description  # one language: the feed owner's
    assert "Trần Văn Hùng — +84901234567 · hung@example.vn" in description  # E.164
    assert "Đức" not in description  # not my own mate
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == -timedelta(minutes=120)
    assert str(alarm["DESCRIPTION"]).startswith("Sắp đến giờ: ")

    english = Calendar.from_ical(client.get(feed_link(client, mate_headers)).data)
    assert str(english["X-WR-CALNAME"]) == "My volunteering"
    event = events_by_uid(client.get(feed_link(client, mate_headers)).data)[uid(session)]
    description = str(event["DESCRIPTION"])
    assert str(event["SUMMARY"]) == "Sử dụng điện thoại thông minh (Helper)"
    assert "Role: Helper" in description and "Squad-mates: Hùng, Đức" in description
    assert "Lead: Trần Văn Hùng — +84901234567" in description
    assert "Vai trò" not in description and " / " not in description
    (alarm,) = event.walk("VALARM")
    assert str(alarm["DESCRIPTION"]) == "Starting soon: Sử dụng điện thoại thông minh"


def test_volunteer_feed_lists_only_confirmed_bookings(client, make_session, make_volunteer):
    full = make_session(roles=[{"role": "helper", "count": 1, "required_skills": []}])
    other = make_session(title="Buổi khác")
    _, first = make_volunteer()
    _, me = make_volunteer()
    signup(client, full["id"], first)
    waitlisted = client.post(
        f"/api/v1/sessions/{full['id']}/signups", json={"role": "helper"}, headers=me
    )
    assert waitlisted.json["status"] == "waitlisted"
    signup(client, other["id"], me)
    assert set(events_by_uid(client.get(feed_link(client, me)).data)) == {uid(other)}


def test_one_query_builds_a_feed_whatever_its_size(client, make_session, make_volunteer):
    sessions = [
        make_session(
            starts_at=(utcnow() + timedelta(days=2 + n)).replace(microsecond=0).isoformat(),
            ends_at=(utcnow() + timedelta(days=2 + n, hours=2)).replace(microsecond=0).isoformat(),
        )
        for n in range(4)
    ]
    volunteers = [make_volunteer(max_sessions_per_week=7) for _ in range(3)]
    for session in sessions:
        for _, headers in volunteers[:2]:
            signup(client, session["id"], headers)
    volunteer_id = volunteers[0][0]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    db.session.commit()
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        ward = queries.ward_feed("kim_lien")
        private = queries.volunteer_feed(volunteer_id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(ward.events) == 4 and len(private.events) == 4
    assert all(len(e.mates) == 1 for e in private.events)
    assert len(statements) == 2, statements


@pytest.mark.parametrize("path", ["/calendar/wards/kim_lien.ics", "/calendar/squads/{squad}.ics"])
def test_empty_feeds_are_valid_calendars(client, organizer_headers, make_volunteer, path):
    leader_id, _ = make_volunteer()
    squad = client.post(
        "/api/v1/squads",
        json={
            "name": "Đội Kim Liên",
            "leader_id": leader_id,
            "member_ids": [],
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    )
    assert squad.status_code == 201, squad.json
    response = client.get(path.format(squad=squad.json["id"]))
    assert response.status_code == 200
    calendar = parse(response.data)
    assert calendar.walk("VEVENT") == [] and str(calendar["VERSION"]) == "2.0"


def test_a_volunteers_private_feed_follows_the_language_they_switch_to(
    client, make_session, make_volunteer, redis_client
):
    """The feed is cached; the switch on the pages goes stale only that volunteer's."""
    session = make_session()
    me_id, me_headers = make_volunteer()
    mate_id, mate_headers = make_volunteer()
    signup(client, session["id"], me_headers)
    signup(client, session["id"], mate_headers)
    run_events()
    mine, mates = feed_link(client, me_headers), feed_link(client, mate_headers)
    before = str(events_by_uid(client.get(mine).data)[uid(session)]["DESCRIPTION"])
    assert "Vai trò: Hỗ trợ" in before
    mates_before = client.get(mates).data
    assert redis_client.keys("*feed*volunteer*")  # both cached

    log_in(client, db.session.get(Volunteer, me_id).email)
    submit(client, "/language", {"locale": "en", "next": "/"}, form_page="/")
    run_events()

    description = str(events_by_uid(client.get(mine).data)[uid(session)]["DESCRIPTION"])
    assert "Role: Helper" in description and "Vai trò" not in description
    assert client.get(mates).data == mates_before  # still Vietnamese, still cached
    assert db.session.get(Volunteer, mate_id).locale == "vi"
