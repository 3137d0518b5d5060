"""Migration 0006 on a database that was in use: the 17 wards of the former Đống Đa
district with sessions, participants, registrations, attendance and assessments, written
at revision 0005 with plain SQL (as that schema was), then upgraded to the head."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from coordinator.database import UTCDateTime
from coordinator.demo import DATA
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import history_of, roll_up_map
from coordinator.progress.operations import progress
from tests.conftest import sibling_app

OLD_WARDS = json.loads((DATA / "wards_dong_da.json").read_text(encoding="utf-8"))["wards"]
with (DATA / "changes_2025_dong_da.csv").open(encoding="utf-8") as _file:
    MAIN_SUCCESSOR = {
        r["old_code"]: r["new_code"] for r in csv.DictReader(_file) if r["main"] == "yes"
    }
STARTS = datetime(2025, 3, 1, 1, 30, tzinfo=UTC)


@pytest.fixture
def fresh_url(app, database_url, tmp_path):
    """An empty database beside the test database (a file, or a PostgreSQL database
    created for the test and dropped after it)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'at_0005.sqlite3'}"
        return
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_migration_0006"
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture
def upgraded(app, fresh_url):
    """The old district's data written at 0005, then every later migration applied; the
    test runs in an app context on that database."""
    other = sibling_app(app, SQLALCHEMY_DATABASE_URI=fresh_url)
    with other.app_context():
        upgrade(revision="0005")
        _write_at_0005()
        upgrade()
        yield
        db.session.remove()
        db.engine.dispose()


def _write_at_0005() -> None:
    at = sa.bindparam("at", type_=UTCDateTime)
    ends = sa.bindparam("ends", type_=UTCDateTime)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO competences (code, name, area_code, position)"
                " VALUES ('1', 'Khai thác dữ liệu và thông tin', NULL, 1)"
            )
        )
        for ward in OLD_WARDS:
            conn.execute(
                sa.text(
                    "INSERT INTO wards (code, name, name_en, district)"
                    " VALUES (:code, :name, :name_en, 'dong_da')"
                ),
                {"code": ward["code"], "name": ward["name"], "name_en": ward["name_en"]},
            )
        for ward in OLD_WARDS:
            for neighbor in ward["neighbors"]:
                conn.execute(
                    sa.text("INSERT INTO ward_neighbors VALUES (:a, :b)"),
                    {"a": ward["code"], "b": neighbor},
                )
        for number, ward in enumerate(OLD_WARDS, start=1):
            # one session per old ward; two residents, one came and reached the standard
            conn.execute(
                sa.text(
                    "INSERT INTO training_sessions (id, title, description, competence_area,"
                    " target_group, ward, venue, venue_accessibility, starts_at, ends_at,"
                    " capacity, registered_count, participant_needs, languages, status,"
                    " version, sequence, created_at, updated_at)"
                    " VALUES (:id, :title, '', '1', 'residents', :ward, 'Nhà văn hóa', '[]',"
                    " :at, :ends, 20, 2, '[]', '[\"vi\"]', 'completed', 1, 0, :at, :at)"
                ).bindparams(at, ends),
                {
                    "id": number,
                    "title": f"Buổi học {ward['code']}",
                    "ward": ward["code"],
                    "at": STARTS + timedelta(days=number),
                    "ends": STARTS + timedelta(days=number, hours=2),
                },
            )
            for offset, came in ((0, True), (1, False)):
                person = number * 2 - 1 + offset
                conn.execute(
                    sa.text(
                        "INSERT INTO participants (id, full_name, ward, target_group, locale,"
                        " notification_settings, created_at)"
                        " VALUES (:id, :name, :ward, 'residents', 'vi', '{}', :at)"
                    ).bindparams(at),
                    {
                        "id": person,
                        "name": f"Người học {person}",
                        "ward": ward["code"],
                        "at": STARTS,
                    },
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO registrations (session_id, participant_id, status,"
                        " created_at, updated_at, attended, checked_in_at)"
                        " VALUES (:session, :person, 'registered', :at, :at, :came, :checked)"
                    ).bindparams(at, sa.bindparam("checked", type_=UTCDateTime)),
                    {
                        "session": number,
                        "person": person,
                        "at": STARTS,
                        "came": came,
                        "checked": STARTS + timedelta(days=number) if came else None,
                    },
                )
                if came:
                    conn.execute(
                        sa.text(
                            "INSERT INTO assessments (participant_id, session_id,"
                            " competence_code, level, reached_basic, assessed_at)"
                            " VALUES (:person, :session, '1', 3, :yes, :ends)"
                        ).bindparams(ends),
                        {
                            "person": person,
                            "session": number,
                            "yes": True,
                            "ends": STARTS + timedelta(days=number, hours=2),
                        },
                    )


def _count(table: str) -> int:
    return db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def test_old_sessions_stay_in_their_wards_and_the_wards_end_in_hanoi(upgraded):
    old_codes = {w["code"] for w in OLD_WARDS}
    sessions = dict(db.session.execute(sa.text("SELECT id, ward FROM training_sessions")).all())
    assert sessions == {n: w["code"] for n, w in enumerate(OLD_WARDS, start=1)}
    assert (_count("participants"), _count("registrations"), _count("assessments")) == (34, 34, 17)
    assert _count("ward_neighbors") == sum(len(w["neighbors"]) for w in OLD_WARDS)

    old = db.session.scalars(sa.select(Ward).where(Ward.code.in_(old_codes))).all()
    assert len(old) == 17
    assert {(w.valid_to, w.province_code, w.type, w.district) for w in old} == {
        (date(2025, 6, 30), "01", "phuong", "dong_da")
    }
    # the five successors were created with their official codes, from 1 July 2025
    new = db.session.scalars(sa.select(Ward).where(Ward.code.in_(MAIN_SUCCESSOR.values()))).all()
    assert {(w.code, w.valid_from, w.valid_to) for w in new} == {
        (code, date(2025, 7, 1), None) for code in ("00187", "00190", "00196", "00226", "00235")
    }


def test_each_old_ward_rolls_up_into_its_main_successor(upgraded):
    assert roll_up_map() == MAIN_SUCCESSOR
    assert set(MAIN_SUCCESSOR) == {w["code"] for w in OLD_WARDS}
    for new in set(MAIN_SUCCESSOR.values()):
        former = sorted(old for old, main in MAIN_SUCCESSOR.items() if main == new)
        assert history_of(new) == [new, *former]
    assert history_of("00277") == ["00277"]  # Bạch Mai took part of Phương Mai, not its figures
    assert sorted(history_of("00226")) == sorted(
        ["00226", "khuong_thuong", "kim_lien", "nam_dong", "phuong_lien_trung_tu", "phuong_mai"]
    )


def test_every_old_session_counts_under_its_successor_in_the_reports(upgraded):
    report = progress(2025)
    assert (report.overall.enrolled, report.overall.reached) == (34, 17)
    # no row for a former ward: each is reported inside the ward that took it over
    assert {row.ward for row in report.rows} == set(MAIN_SUCCESSOR.values())
    reached = Counter()
    for row in report.rows:
        reached[row.ward] += row.reached
        assert {unit.code for unit in row.includes} == {
            old for old, new in MAIN_SUCCESSOR.items() if new == row.ward
        }
    assert reached == Counter(MAIN_SUCCESSOR.values())
    hanoi = progress(2025, level="province", unit="01")
    assert (hanoi.overall.enrolled, hanoi.overall.reached) == (34, 17)
