"""Volunteers' hours per volunteer and per squad, against numbers worked out by hand.

Sessions (relative to now unless dated): H1 ended, 2 h; H2 ended, 1.5 h; H3 ended but
cancelled, 3 h; H4 in the future, 2 h; H5 running now (ends in an hour); H6 on
2024-06-01 in Hanoi, 1 h. Squads: Q1 (leader V1, member V2), Q2 (leader V3).

bookings:                                  counts for
  V1 H1 confirmed with Q1      120 min     V1, Q1
  V2 H1 confirmed with Q1      120 min     V2, Q1
  V1 H2 confirmed, no squad     90 min     V1
  V2 H2 withdrawn                          -
  V3 H2 confirmed with Q2       90 min     V3, Q2
  V3 H3 confirmed (cancelled)              -
  V1 H4 confirmed (future)                 -
  V2 H5 confirmed (not ended)              -
  V3 H1 proposed                           -
  V2 H6 confirmed with Q2       60 min     V2, Q2 (booked with Q2 though not a member)

V1: 120 + 90 = 210 min = 3.5 h in 2 sessions; V2: 120 + 60 = 180 min = 3.0 h in 2;
V3: 90 min = 1.5 h in 1. Q1: 120 + 120 = 240 min = 4.0 h, 1 session, 2 volunteers;
Q2: 90 + 60 = 150 min = 2.5 h, 2 sessions, 2 volunteers. In 2024 only H6: V2 1 h, Q2 1 h.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from coordinator.background import get_queue
from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.progress import counts, hours, hours_kept
from coordinator.sessions.models import SessionRole, TrainingSession
from coordinator.squads.models import Squad, SquadMember
from tests.page_helpers import log_in, text

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def _volunteer(name: str) -> Volunteer:
    volunteer = Volunteer(
        full_name=name, email=f"{name.split()[-1].lower()}@example.vn", home_ward="kim_lien"
    )
    db.session.add(volunteer)
    db.session.flush()
    return volunteer


def _session(starts: datetime, minutes: int, status: str = "published") -> TrainingSession:
    session = TrainingSession(
        title="Buổi học",
        competence_area="1",
        target_group="residents",
        ward="kim_lien",
        venue="Nhà văn hóa",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        capacity=20,
        status=status,
        roles=[SessionRole(role="helper", count=5)],
    )
    db.session.add(session)
    db.session.flush()
    return session


def _book(volunteer, session, status="confirmed", squad=None) -> None:
    """A booking; a confirmed one of an ended session was recorded `attended`."""
    ended = session.ends_at <= utcnow()
    db.session.add(
        Assignment(
            session_id=session.id,
            role_id=session.roles[0].id,
            volunteer_id=volunteer.id,
            squad_id=squad.id if squad else None,
            source="organizer",
            status=status,
            attendance="attended" if status == "confirmed" and ended else None,
        )
    )


@pytest.fixture
def worked(app, wards, competences):
    now = utcnow().replace(microsecond=0)
    v1, v2, v3 = _volunteer("Trần Văn An"), _volunteer("Lê Thị Bình"), _volunteer("Phạm Cường")
    q1 = Squad(name="Đội Kim Liên", leader_id=v1.id, home_ward="kim_lien")
    q2 = Squad(name="Đội Cát Linh", leader_id=v3.id, home_ward="cat_linh")
    db.session.add_all([q1, q2])
    db.session.flush()
    db.session.add_all(
        [
            SquadMember(squad_id=q1.id, volunteer_id=v1.id),
            SquadMember(squad_id=q1.id, volunteer_id=v2.id),
            SquadMember(squad_id=q2.id, volunteer_id=v3.id),
        ]
    )
    h1 = _session(now - timedelta(days=3), 120)
    h2 = _session(now - timedelta(days=2), 90)
    h3 = _session(now - timedelta(days=1), 180, status="cancelled")
    h4 = _session(now + timedelta(days=2), 120)
    h5 = _session(now - timedelta(minutes=30), 90)
    h6 = _session(datetime(2024, 6, 1, 9, tzinfo=HANOI), 60)
    _book(v1, h1, squad=q1)
    _book(v2, h1, squad=q1)
    _book(v1, h2)
    _book(v2, h2, status="withdrawn")
    _book(v3, h2, squad=q2)
    _book(v3, h3)
    _book(v1, h4)
    _book(v2, h5)
    _book(v3, h1, status="proposed")
    _book(v2, h6, squad=q2)
    db.session.commit()
    return {"v1": v1.id, "v2": v2.id, "v3": v3.id, "q1": q1.id, "q2": q2.id}


def test_hours_per_volunteer(worked):
    rows = hours.volunteer_hours()

    assert [(h.id, h.name, h.minutes, h.hours, h.sessions) for h in rows] == [
        (worked["v1"], "Trần Văn An", 210, 3.5, 2),
        (worked["v2"], "Lê Thị Bình", 180, 3.0, 2),
        (worked["v3"], "Phạm Cường", 90, 1.5, 1),
    ]


def test_hours_per_squad_are_the_bookings_made_with_it(worked):
    rows = hours.squad_hours()

    assert [(h.id, h.name, h.minutes, h.hours, h.sessions, h.volunteers) for h in rows] == [
        (worked["q1"], "Đội Kim Liên", 240, 4.0, 1, 2),
        (worked["q2"], "Đội Cát Linh", 150, 2.5, 2, 2),
    ]


def test_hours_of_one_year(worked):
    assert [(h.id, h.minutes) for h in hours.volunteer_hours(2024)] == [(worked["v2"], 60)]
    assert [(h.id, h.minutes) for h in hours.squad_hours(2024)] == [(worked["q2"], 60)]
    assert hours.volunteer_hours(2023) == []


def test_a_booking_marked_absent_does_not_count(worked):
    booking = db.session.scalar(
        sa.select(Assignment).where(
            Assignment.volunteer_id == worked["v1"], Assignment.squad_id.is_(None)
        )
    )
    booking.attended = False  # V1 missed H2 (90 min)
    db.session.commit()
    assert [(h.id, h.minutes) for h in hours.volunteer_hours()][0] == (worked["v2"], 180)


def _booking(volunteer_id: int, squad: bool) -> Assignment:
    return db.session.scalar(
        sa.select(Assignment)
        .where(
            Assignment.volunteer_id == volunteer_id,
            Assignment.status == "confirmed",
            Assignment.squad_id.is_not(None) if squad else Assignment.squad_id.is_(None),
        )
        .order_by(Assignment.id)
    )


@pytest.mark.parametrize(
    "status, v1_minutes, q1_hours",
    [("attended", 210, 4.0), ("late", 210, 4.0), ("no_show", 90, 2.0), ("excused", 90, 2.0)],
)
def test_only_attended_and_late_count(worked, status, v1_minutes, q1_hours):
    _booking(worked["v1"], squad=True).attendance = status  # V1 in H1 (120 min, with Q1)
    db.session.commit()
    v1 = next(h for h in hours.volunteer_hours() if h.id == worked["v1"])
    assert v1.minutes == v1_minutes
    assert v1.no_shows == (1 if status == "no_show" else 0)
    q1 = next(h for h in hours.squad_hours() if h.id == worked["q1"])
    assert q1.hours == q1_hours


def test_an_unrecorded_booking_counts_only_on_the_volunteers_word(worked):
    booking = _booking(worked["v1"], squad=True)  # V1 in H1 (120 min, with Q1)
    booking.attendance = None
    db.session.commit()
    v1 = next(h for h in hours.volunteer_hours() if h.id == worked["v1"])
    assert v1.minutes == 90  # only H2: nobody says V1 came to H1
    booking.self_reported_at = utcnow()  # "Tôi đã đến" from the post-session ask
    db.session.commit()
    v1 = next(h for h in hours.volunteer_hours() if h.id == worked["v1"])
    assert v1.minutes == 210
    booking.attendance = "no_show"  # the lead's record wins over the volunteer's word
    db.session.commit()
    v1 = next(h for h in hours.volunteer_hours() if h.id == worked["v1"])
    assert (v1.minutes, v1.no_shows) == (90, 1)


def test_no_shows_are_shown_to_organizers_per_volunteer(
    client, worked, organizer_headers, make_volunteer, make_user
):
    _booking(worked["v1"], squad=True).attendance = "no_show"
    _booking(worked["v3"], squad=True).attendance = "no_show"  # V3's only worked session
    db.session.commit()
    rows = client.get("/api/v1/hours", headers=organizer_headers).json["rows"]
    assert [(r["id"], r["minutes"], r["no_shows"]) for r in rows] == [
        (worked["v2"], 180, 0),
        (worked["v1"], 90, 1),
        (worked["v3"], 0, 1),
    ]
    _volunteer_id, volunteer_headers = make_volunteer()
    assert client.get("/api/v1/hours", headers=volunteer_headers).status_code == 403
    log_in(client, make_user("organizer").email)
    html = text(client.get("/organize/hours"))
    assert "Vắng không báo" in html


def test_api_hours(client, worked, organizer_headers):
    volunteers = client.get("/api/v1/hours", headers=organizer_headers)
    assert volunteers.status_code == 200
    assert volunteers.json["by"] == "volunteer" and volunteers.json["total_hours"] == 8.0
    assert [
        (r["id"], r["name"], r["minutes"], r["hours"], r["sessions"])
        for r in volunteers.json["rows"]
    ] == [
        (worked["v1"], "Trần Văn An", 210, 3.5, 2),
        (worked["v2"], "Lê Thị Bình", 180, 3.0, 2),
        (worked["v3"], "Phạm Cường", 90, 1.5, 1),
    ]

    squads = client.get("/api/v1/hours?by=squad", headers=organizer_headers)
    assert squads.json["total_hours"] == 6.5
    assert [(r["id"], r["hours"], r["sessions"], r["volunteers"]) for r in squads.json["rows"]] == [
        (worked["q1"], 4.0, 1, 2),
        (worked["q2"], 2.5, 2, 2),
    ]
    one_year = client.get("/api/v1/hours?by=squad&year=2024", headers=organizer_headers)
    assert [(r["id"], r["hours"]) for r in one_year.json["rows"]] == [(worked["q2"], 1.0)]
    assert client.get("/api/v1/hours?by=ward", headers=organizer_headers).status_code == 422


def test_api_hours_csv(client, worked, organizer_headers):
    response = client.get("/api/v1/hours.csv?by=squad", headers=organizer_headers)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="hours-squad.csv"' in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines == [
        ["squad_id", "name", "home_ward", "volunteers", "sessions", "minutes", "hours"],
        [str(worked["q1"]), "Đội Kim Liên", "kim_lien", "2", "1", "240", "4.0"],
        [str(worked["q2"]), "Đội Cát Linh", "cat_linh", "2", "2", "150", "2.5"],
    ]
    per_volunteer = client.get("/api/v1/hours.csv", headers=organizer_headers)
    lines = list(csv.reader(io.StringIO(per_volunteer.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == [
        "volunteer_id",
        "full_name",
        "home_ward",
        "sessions",
        "minutes",
        "hours",
        "no_shows",
    ]
    assert lines[1] == [str(worked["v1"]), "Trần Văn An", "kim_lien", "2", "210", "3.5", "0"]


def test_a_name_that_looks_like_a_formula_is_defused(client, worked, organizer_headers):
    db.session.get(Volunteer, worked["v3"]).full_name = '=HYPERLINK("http://evil")'
    db.session.commit()
    body = client.get("/api/v1/hours.csv", headers=organizer_headers).get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_hours_page_and_its_csv(client, worked, make_user):
    log_in(client, make_user("organizer").email)

    page = client.get("/organize/hours")
    assert page.status_code == 200
    html = text(page)
    assert "Trần Văn An" in html and "3,5" in html  # Vietnamese decimal comma
    squads = text(client.get("/organize/hours?by=squad&year=2024"))
    assert "Đội Cát Linh" in squads and "Đội Kim Liên" not in squads
    download = client.get("/organize/hours.csv?by=squad")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "Đội Kim Liên" in download.get_data(as_text=True)
    bad = client.get("/organize/hours?year=abc")
    assert bad.status_code == 422 and 'aria-invalid="true"' in text(bad)
    assert "Trần Văn An" in text(bad)  # the bad filter is left out: all years


# --- the kept hours (coordinator.progress.hours_kept) ---------------------------------


def _refresh() -> None:
    counts.refresh()
    hours_kept.refresh()
    db.session.commit()


def _kept_equals_raw() -> None:
    """Every page of the summary is the raw computation's, for both groupings and years."""
    for by in hours.GROUPINGS:
        for year in (None, 2024, utcnow().astimezone(HANOI).year, 2019):
            raw = hours.hours_page(by, year)
            for limit, offset in ((100, 0), (1, 0), (1, 1), (2, 1), (5, 10)):
                kept = hours_kept.hours_page(by, year, limit=limit, offset=offset)
                assert kept.total == raw.total and kept.total_minutes == raw.total_minutes
                assert kept.rows == raw.rows[offset : offset + limit], (by, year, offset)


def test_kept_hours_match_the_raw_computation(worked):
    _refresh()
    assert hours_kept._usable(utcnow())
    _kept_equals_raw()


def _kept_rows() -> list[tuple]:
    return [
        tuple(getattr(row, name) for name in ("by", "year", "id", *hours_kept._COLUMNS))
        for row in db.session.scalars(
            sa.select(hours_kept.KeptHours).order_by(
                hours_kept.KeptHours.by, hours_kept.KeptHours.year, hours_kept.KeptHours.id
            )
        )
    ]


def _still_kept_and_true() -> None:
    """The summary still answers, agrees with the raw computation, and is row for row
    what a full refresh writes."""
    assert hours_kept._usable(utcnow())
    _kept_equals_raw()
    until = db.session.get(counts.ProgressCountsState, 1).hours_until
    kept = _kept_rows()
    hours_kept.refresh(until)  # a full recount as of the same moment
    db.session.commit()
    assert _kept_rows() == kept


def _first_booking(volunteer_id: int, session: TrainingSession | None = None) -> Assignment:
    query = sa.select(Assignment).where(Assignment.volunteer_id == volunteer_id)
    if session is not None:
        query = query.where(Assignment.session_id == session.id)
    return db.session.scalars(query.order_by(Assignment.id).limit(1)).one()


def test_changes_keep_the_summary_up_to_date(worked):
    """Each change the hours read rewrites the kept rows it touches in its own
    transaction: the summary keeps answering, and equals a full recount."""
    _refresh()
    v1, v2, v3 = (db.session.get(Volunteer, worked[k]) for k in ("v1", "v2", "v3"))
    ended = db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.ends_at <= utcnow(), TrainingSession.status == "published")
        .order_by(TrainingSession.starts_at.desc())
    ).all()
    h2, h1 = ended[0], ended[1]
    booking = _first_booking(v1.id, h1)
    booking.attendance = "no_show"  # attendance recorded after the session
    db.session.commit()
    _still_kept_and_true()
    assert hours_kept.hours_page("volunteer", limit=10).rows[0].id != v1.id  # V1 lost 2 h
    booking.attendance = None
    booking.self_reported_at = utcnow()  # what hours.WORKED reads: the volunteer's word
    db.session.commit()
    _still_kept_and_true()
    _first_booking(v3.id, h2).status = "withdrawn"  # a booking of an ended session ends
    db.session.commit()
    _still_kept_and_true()
    _first_booking(v1.id, h2).squad_id = worked["q2"]  # moved to a squad: its person-hours
    db.session.commit()
    _still_kept_and_true()
    v3.full_name = "Phạm Văn Cường"  # a name orders the list
    db.session.get(Squad, worked["q1"]).name = "Đội Kim Liên mới"
    db.session.commit()
    _still_kept_and_true()
    h1.status = "cancelled"  # an ended session cancelled: its bookings stop counting
    db.session.commit()
    _still_kept_and_true()
    h2.ends_at = h2.starts_at + timedelta(minutes=45)  # its times corrected
    db.session.commit()
    _still_kept_and_true()
    db.session.delete(_first_booking(v2.id))
    db.session.commit()
    _still_kept_and_true()


def test_a_booking_of_a_coming_session_leaves_the_summary_as_it_is(worked):
    """The usual change, a sign-up or a withdrawal for a session still to come, is not
    in the hours: neither the hours nor the progress counts go out of date, and the
    commit reads nothing more than the booking's session (loaded already)."""
    session = _session(utcnow() + timedelta(days=5), 60)
    db.session.commit()
    _refresh()
    assert counts.fresh() and hours_kept._usable(utcnow())
    kept = _kept_rows()
    _book(db.session.get(Volunteer, worked["v1"]), session)
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert [s.split()[0] for s in seen] == ["INSERT"], seen  # the booking, nothing more
    assert counts.fresh() and hours_kept._usable(utcnow())
    assert _kept_rows() == kept


def test_a_session_ending_still_needs_the_refresh(worked):
    _refresh()
    # H5 (running now) ends in an hour: from then on the summary lacks it.
    assert not hours_kept._usable(utcnow() + timedelta(hours=2))


def test_a_bulk_update_counts_as_a_change(worked):
    """A bulk statement names no rows: the summary goes out of date until the refresh."""
    _refresh()
    db.session.execute(
        sa.update(Assignment)
        .where(Assignment.volunteer_id == worked["v1"])
        .values(attendance="late")
    )
    db.session.commit()
    assert not hours_kept._usable(utcnow())
    _kept_equals_raw()  # (from the raw rows)


def test_bookings_schedule_one_refresh_that_later_ones_do_not_postpone(app, worked):
    app.config["PROGRESS_COUNTS_REFRESH"] = True
    registry = ScheduledJobRegistry(queue=get_queue())
    session = db.session.scalar(sa.select(TrainingSession).order_by(TrainingSession.starts_at))
    booking = db.session.scalar(sa.select(Assignment).where(Assignment.session_id == session.id))
    booking.attendance = "late"
    db.session.commit()
    assert registry.get_job_ids() == ["progress-counts"]
    first = get_queue().fetch_job("progress-counts").created_at
    booking.attendance = "attended"
    db.session.commit()
    assert registry.get_job_ids() == ["progress-counts"]
    assert get_queue().fetch_job("progress-counts").created_at == first  # not enqueued again
