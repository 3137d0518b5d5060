"""No query per row: every list page and endpoint costs the same number of SQL statements
with N rows as with 3N (statements counted with SQLAlchemy's `before_cursor_execute`
hook), and lists come a page at a time with the Link / X-Total-Count convention."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from coordinator.bookings.models import Assignment, Registration
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import AvailabilityWindow, Participant, Volunteer
from coordinator.progress.models import Assessment, PopulationTarget
from coordinator.sessions.models import SessionRole, TrainingSession
from coordinator.squads.models import Squad, SquadMember
from tests.conftest import default_session_start
from tests.page_helpers import log_in

N = 4
WARDS = ("kim_lien", "khuong_thuong", "cat_linh")
_serial = itertools.count(1)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def _session(starts, ward: str) -> TrainingSession:
    session = TrainingSession(
        title=f"Buổi {next(_serial)}",
        competence_area="1",
        target_group="residents",
        ward=ward,
        venue="Nhà văn hóa",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=90),
        capacity=20,
        roles=[
            SessionRole(role="lead", count=1, required_skills=[]),
            SessionRole(role="helper", count=3, required_skills=[]),
        ],
    )
    db.session.add(session)
    return session


def grow(rows: int) -> None:
    """`rows` more of everything the pages list, in several wards: coming sessions on the
    fitting volunteer's Tuesday evenings with bookings, ended sessions with worked hours,
    volunteers with windows, squads, participants with registrations and assessments."""
    first = default_session_start()
    past = utcnow() - timedelta(days=3)
    for n in range(rows):
        k = next(_serial)
        ward = WARDS[k % len(WARDS)]
        volunteer = Volunteer(
            full_name=f"Tình nguyện viên {k}",
            email=f"tnv{k}@example.vn",
            home_ward=ward,
            skills=["smartphone_basics"],
            max_sessions_per_week=2,
            availability=[AvailabilityWindow(weekday=1, start_minute=17 * 60, end_minute=21 * 60)],
        )
        coming = _session(first + timedelta(weeks=n % 4, minutes=k % 3), ward)
        ended = _session(past - timedelta(hours=2 * k), ward)
        db.session.add(volunteer)
        db.session.flush()
        squad = Squad(name=f"Đội {k}", leader_id=volunteer.id, home_ward=ward)
        db.session.add(squad)
        db.session.flush()
        db.session.add(SquadMember(squad_id=squad.id, volunteer_id=volunteer.id))
        for session in (coming, ended):
            db.session.add(
                Assignment(
                    session_id=session.id,
                    role_id=session.roles[1].id,
                    volunteer_id=volunteer.id,
                    squad_id=squad.id,
                    source="organizer",
                    status="confirmed",
                    # recorded, so the ended one counts in the hours
                    attendance="attended" if session is ended else None,
                )
            )
            session.roles[1].taken = 1
        participant = Participant(full_name=f"Học viên {k}", ward=ward, target_group="residents")
        db.session.add(participant)
        db.session.flush()
        db.session.add(
            Registration(session_id=ended.id, participant_id=participant.id, status="registered")
        )
        ended.registered_count = 1
        db.session.add(
            Assessment(
                participant_id=participant.id,
                session_id=ended.id,
                competence_code="1",
                level=2,
                reached_basic=True,
                assessed_at=past,
            )
        )
    db.session.commit()


@pytest.fixture
def world(app, wards, competences, client, make_user, make_volunteer, auth_headers):
    """An organizer's and a fitting volunteer's logged-in clients, and targets."""
    for ward in WARDS:
        db.session.add(
            PopulationTarget(ward=ward, target_group="residents", year=utcnow().year, baseline=1000)
        )
    db.session.commit()
    volunteer_id, _headers = make_volunteer(
        is_expert=True,
        availability=[{"weekday": 1, "start": "17:00", "end": "21:00"}],
        max_sessions_per_week=7,
    )
    log_in(client, db.session.get(Volunteer, volunteer_id).email)
    organizer = app.test_client()
    fresh_request_globals()
    user = make_user("organizer")
    log_in(organizer, user.email)
    # The API with a bearer token, as its clients call it.
    organizer.environ_base.update({"HTTP_AUTHORIZATION": auth_headers(user)["Authorization"]})
    return {"volunteer": client, "organizer": organizer}


REQUESTS = [
    ("organizer", "/organize/"),
    ("organizer", "/organize/?limit=2&offset=2"),  # a later page: the order is SQL's
    ("organizer", "/organize/?offset=1000"),  # past the end: the strip on its own
    ("volunteer", "/me/fits"),
    ("organizer", "/api/v1/volunteers"),
    ("organizer", "/api/v1/volunteers?q=vi%C3%AAn"),
    ("organizer", "/api/v1/hours"),
    ("organizer", "/api/v1/hours?by=squad"),
    ("organizer", "/organize/hours"),
    ("organizer", "/api/v1/progress"),
    ("organizer", "/api/v1/progress?level=province"),
    ("organizer", "/organize/progress"),
    ("organizer", "/api/v1/sessions"),
    ("organizer", "/api/v1/squads"),
    ("organizer", "/api/v1/wards"),
    ("organizer", "/api/v1/wards?province=01&limit=5&offset=5"),
]


def fresh_request_globals() -> None:
    """The tests' app context outlives requests, and with it `g` (where a request keeps
    its CSRF token and the ward names it read): each request here starts without them,
    as it does in the service."""
    for name in list(g):
        g.pop(name)


def _counts(world) -> dict[str, tuple[int, int]]:
    found = {}
    for who, path in REQUESTS:
        fresh_request_globals()
        with statements() as seen:
            response = world[who].get(path)
        assert response.status_code == 200, (path, response.status_code)
        found[path] = (len(seen), len(response.get_data()))
    return found


def test_each_page_costs_the_same_queries_with_three_times_the_rows(world):
    grow(N)
    small = _counts(world)
    grow(2 * N)
    large = _counts(world)
    assert {path: n for path, (n, _size) in large.items()} == {
        path: n for path, (n, _size) in small.items()
    }
    # The lists did grow: the counts are not the same for want of rows.
    for path in ("/organize/", "/me/fits", "/api/v1/hours", "/api/v1/hours?by=squad"):
        assert large[path][1] > small[path][1], path


@pytest.mark.parametrize(
    "path, rows",
    [
        ("/api/v1/volunteers", lambda body: body),
        ("/api/v1/hours", lambda body: body["rows"]),
        ("/api/v1/sessions", lambda body: body),
        ("/api/v1/squads", lambda body: body),
    ],
)
def test_lists_come_a_page_at_a_time_with_link_and_total(world, path, rows):
    grow(N)
    client = world["organizer"]
    first = client.get(f"{path}?limit=2")
    total = int(first.headers["X-Total-Count"])
    assert total > 2 and len(rows(first.json)) == 2
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    seen, url = [], f"{path}?limit=2"
    while url:
        page = client.get(url)
        seen += [row["id"] for row in rows(page.json)]
        link = page.headers.get("Link", "")
        url = next(
            (p.split(">")[0].lstrip(" <") for p in link.split(",") if 'rel="next"' in p), None
        )
    assert len(seen) == total and len(set(seen)) == total  # stable: nothing twice or lost
    last = client.get(f"{path}?limit=2&offset={total - 1}")
    assert "next" not in last.headers.get("Link", "") and 'rel="prev"' in last.headers["Link"]
    assert client.get(f"{path}?limit=0").status_code == 422
    assert client.get(f"{path}?offset=-1").status_code == 422


def test_pages_show_a_pager_past_one_page(world):
    grow(N)
    page = world["organizer"].get("/organize/?limit=2").get_data(as_text=True)
    assert 'rel="next"' in page and "offset=2" in page
    page = world["organizer"].get("/organize/?limit=2&offset=2").get_data(as_text=True)
    assert 'rel="prev"' in page
    assert world["organizer"].get("/organize/?limit=x&offset=y").status_code == 200


def test_progress_rows_come_a_page_at_a_time(world):
    grow(N)
    client = world["organizer"]
    whole = client.get("/api/v1/progress").json
    first = client.get("/api/v1/progress?limit=1")
    assert int(first.headers["X-Total-Count"]) == len(whole["rows"]) > 1
    assert 'rel="next"' in first.headers["Link"]
    assert first.json["rows"] == whole["rows"][:1]
    assert first.json["totals"]["overall"] == whole["totals"]["overall"]
    assert [t["unit"] for t in first.json["totals"]["by_unit"]] == [whole["rows"][0]["unit"]]
    page = world["organizer"].get("/organize/progress?limit=1").get_data(as_text=True)
    assert 'rel="next"' in page


def test_home_page_reads_the_ward_names_in_one_query(world):
    """The home page lists sessions in many wards: their names are read together, not
    one query per ward (`ward_name` alone would read each code on its own)."""

    def home_statements() -> int:
        fresh_request_globals()
        with statements() as seen:
            assert world["volunteer"].get("/").status_code == 200
        return len(seen)

    codes = db.session.scalars(sa.text("SELECT code FROM wards ORDER BY code LIMIT 6")).all()
    starts = default_session_start()
    for code in codes[:2]:
        _session(starts, code)
    db.session.commit()
    two_wards = home_statements()
    for code in codes[2:]:
        _session(starts, code)
    db.session.commit()
    assert home_statements() == two_wards
