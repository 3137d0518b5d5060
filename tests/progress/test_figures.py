"""Progress figures against a fixture whose numbers were worked out by hand.

The fixture (plan year 2025, wards Kim Liên KL, Cát Linh CL, Hàng Bột HB):

targets 2025: KL residents 1000 × 80% = 800 (reached_before 100); KL students 300 × 100%
= 300; CL residents 1000 × 14.3% = 143 (not 144: the float trap; reached_before 5);
HB civil servants 7 × 50% = 3.5 → 4. Also KL residents 2024: 900 × 70% = 630 (reached
before 50) and CL workers 2026: 50 × 10% = 5.

sessions: S1 KL 2025-03-10, S2 KL 2025-04-10 cancelled, S3 KL 2025-05-10, S4 CL
2025-06-01, S5 KL 2026-01-15.

KL residents: P1 registered S1, reached 2025-03-10 -> enrolled, reached.
              P2 registered S1 and S3, reached in two competences -> counted once each.
              P3 registered only in the cancelled S2; assessed, not reached -> neither.
              P4 registration cancelled (S1), waitlisted (S4); reached 2025-12-31 18:30
                 UTC = 2026-01-01 01:30 in Hanoi -> neither in 2025; reached in 2026.
              P5 registered in CL's S4 (the participant's ward counts, not the session's);
                 reached 2025-12-31 16:59 UTC = 23:59 in Hanoi -> enrolled, reached.
              P6 erased (counted by the anonymous counts instead) -> neither.
              P7 registered only in S5 (2026) -> not enrolled in 2025; enrolled in 2026.
              erased counts: enrolled 2, reached 1.
   enrolled 3 + 2 = 5; reached 3 + 1 + 100 = 104; 104/1000 = 10.4%; remaining 800-104 = 696.
KL students: P8 registered S3, reached; P9 registered S3 -> enrolled 2, reached 1;
   1/300 = 0.3%; remaining 299.
CL residents: P10 registered S4, reached -> enrolled 1, reached 1 + 5 = 6; 0.6%; 137.
CL workers: P11 registered S4, no target -> enrolled 1, reached 0, no target.
HB civil servants: no participants; erased counts enrolled 1, reached 1 -> 1/7 = 14.3%;
   remaining 4 - 1 = 3.
HB youth with disabilities: P12, no registration -> a row of zeros, no target.

totals per ward: CL baseline 1000 target 143 enrolled 2 reached 6 (0.6%) remaining 137;
HB 7 / 4 / 1 / 1 (14.3%) / 3; KL 1300 / 1100 / 7 / 105 (105/1300 = 8.1%) / 995.
overall: 2307 / 1247 / 10 / 112 (112/2307 = 4.9%) / 1135.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from coordinator.people.models import Participant
from coordinator.progress import operations
from coordinator.progress.models import Assessment, ErasedParticipantCount, PopulationTarget
from coordinator.sessions.models import TrainingSession
from tests.api_helpers import assert_error

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET_NAME = "Nguyễn Văn Riêng Tư"

FIELDS = (
    "ward",
    "target_group",
    "baseline",
    "target_percent",
    "target",
    "reached_before",
    "enrolled",
    "reached",
    "reached_percent",
    "remaining",
)
ROWS_2025 = [
    ("cat_linh", "workers", None, None, None, 0, 1, 0, None, None),
    ("cat_linh", "residents", 1000, 14.3, 143, 5, 1, 6, 0.6, 137),
    ("hang_bot", "civil_servants", 7, 50.0, 4, 0, 1, 1, 14.3, 3),
    ("hang_bot", "youth_disabilities", None, None, None, 0, 0, 0, None, None),
    ("kim_lien", "students", 300, 100.0, 300, 0, 2, 1, 0.3, 299),
    ("kim_lien", "residents", 1000, 80.0, 800, 100, 5, 104, 10.4, 696),
]
TOTAL_FIELDS = ("baseline", "target", "enrolled", "reached", "reached_percent", "remaining")
BY_WARD_2025 = {
    "cat_linh": (1000, 143, 2, 6, 0.6, 137),
    "hang_bot": (7, 4, 1, 1, 14.3, 3),
    "kim_lien": (1300, 1100, 7, 105, 8.1, 995),
}
BY_GROUP_2025 = {
    "civil_servants": (7, 4, 1, 1, 14.3, 3),
    "students": (300, 300, 2, 1, 0.3, 299),
    "workers": (None, None, 1, 0, None, None),
    "residents": (2000, 943, 6, 110, 5.5, 833),
    "youth_disabilities": (None, None, 0, 0, None, None),
}
OVERALL_2025 = (2307, 1247, 10, 112, 4.9, 1135)


def hanoi(year, month, day, hour=9, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HANOI)


def _session(ward, group, starts, status="published") -> TrainingSession:
    session = TrainingSession(
        title="Buổi học",
        competence_area="1",
        target_group=group,
        ward=ward,
        venue="Nhà văn hóa",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=30,
        status=status,
    )
    db.session.add(session)
    return session


def _participant(ward, group, *, erased=False) -> Participant:
    person = Participant(
        full_name=None if erased else SECRET_NAME,
        ward=ward,
        target_group=group,
        erased_at=datetime(2025, 9, 1, tzinfo=UTC) if erased else None,
    )
    db.session.add(person)
    db.session.flush()
    return person


def _register(person, session, status="registered", position=None) -> None:
    db.session.add(
        Registration(
            session_id=session.id,
            participant_id=person.id,
            status=status,
            waitlist_position=position,
        )
    )


def _assess(person, when, reached=True, competence="1.1") -> None:
    db.session.add(
        Assessment(
            participant_id=person.id,
            competence_code=competence,
            level=3,
            reached_basic=reached,
            assessed_at=when,
        )
    )


def _target(ward, group, year, baseline, percent, before=0) -> None:
    db.session.add(
        PopulationTarget(
            ward=ward,
            target_group=group,
            year=year,
            baseline=baseline,
            target_percent=percent,
            reached_before=before,
        )
    )


@pytest.fixture
def hand_computed(app, wards, competences):
    """The fixture of the module docstring, written directly as rows."""
    _target("kim_lien", "residents", 2025, 1000, 80, before=100)
    _target("kim_lien", "students", 2025, 300, 100)
    _target("cat_linh", "residents", 2025, 1000, 14.3, before=5)
    _target("hang_bot", "civil_servants", 2025, 7, 50)
    _target("kim_lien", "residents", 2024, 900, 70, before=50)
    _target("cat_linh", "workers", 2026, 50, 10)
    s1 = _session("kim_lien", "residents", hanoi(2025, 3, 10))
    s2 = _session("kim_lien", "residents", hanoi(2025, 4, 10), status="cancelled")
    s3 = _session("kim_lien", "students", hanoi(2025, 5, 10))
    s4 = _session("cat_linh", "residents", hanoi(2025, 6, 1))
    s5 = _session("kim_lien", "residents", hanoi(2026, 1, 15))
    db.session.flush()

    p1 = _participant("kim_lien", "residents")
    _register(p1, s1)
    _assess(p1, hanoi(2025, 3, 10, 11))
    p2 = _participant("kim_lien", "residents")
    _register(p2, s1)
    _register(p2, s3)
    _assess(p2, hanoi(2025, 3, 10, 11), competence="1.1")
    _assess(p2, hanoi(2025, 5, 10, 11), competence="2.1")
    p3 = _participant("kim_lien", "residents")
    _register(p3, s2)
    _assess(p3, hanoi(2025, 4, 10, 11), reached=False)
    p4 = _participant("kim_lien", "residents")
    _register(p4, s1, status="cancelled")
    _register(p4, s4, status="waitlisted", position=1)
    _assess(p4, datetime(2025, 12, 31, 18, 30, tzinfo=UTC))
    p5 = _participant("kim_lien", "residents")
    _register(p5, s4)
    _assess(p5, datetime(2025, 12, 31, 16, 59, tzinfo=UTC))
    p6 = _participant("kim_lien", "residents", erased=True)
    _register(p6, s1)
    _assess(p6, hanoi(2025, 3, 10, 11))
    p7 = _participant("kim_lien", "residents")
    _register(p7, s5)
    p8 = _participant("kim_lien", "students")
    _register(p8, s3)
    _assess(p8, hanoi(2025, 5, 10, 11))
    p9 = _participant("kim_lien", "students")
    _register(p9, s3)
    p10 = _participant("cat_linh", "residents")
    _register(p10, s4)
    _assess(p10, hanoi(2025, 6, 1, 11))
    p11 = _participant("cat_linh", "workers")
    _register(p11, s4)
    _participant("hang_bot", "youth_disabilities")
    db.session.add(
        ErasedParticipantCount(ward="kim_lien", target_group="residents", enrolled=2, reached=1)
    )
    db.session.add(
        ErasedParticipantCount(
            ward="hang_bot", target_group="civil_servants", enrolled=1, reached=1
        )
    )
    db.session.commit()


def as_tuples(rows) -> list[tuple]:
    return [tuple(getattr(row, name) for name in FIELDS) for row in rows]


def figures(totals) -> tuple:
    return tuple(getattr(totals, name) for name in TOTAL_FIELDS)


def test_figures_of_the_hand_computed_fixture(hand_computed):
    report = operations.progress(2025)

    assert report.year == 2025
    assert as_tuples(report.rows) == ROWS_2025
    assert {ward: figures(t) for ward, t in report.by_ward.items()} == BY_WARD_2025
    assert {group: figures(t) for group, t in report.by_group.items()} == BY_GROUP_2025
    assert list(report.by_group) == list(BY_GROUP_2025)  # the vocabulary's order
    assert figures(report.overall) == OVERALL_2025
    assert [row.ward_name for row in report.rows[:1]] == ["Phường Cát Linh"]


def test_other_years_use_their_own_targets_and_cut_offs(hand_computed):
    by_pair = {(r.ward, r.target_group): r for r in operations.progress(2024).rows}
    # 2024: no session started and nobody was assessed yet; only the anonymous counts
    # (which have no year) and the 2024 target's reached_before: 1 + 50 = 51 of 630.
    kl = by_pair["kim_lien", "residents"]
    assert (kl.target, kl.enrolled, kl.reached, kl.remaining) == (630, 2, 51, 579)
    assert ("kim_lien", "students") in by_pair and by_pair["kim_lien", "students"].target is None

    by_pair = {(r.ward, r.target_group): r for r in operations.progress(2026).rows}
    # 2026: P7 (S5) joins the enrolled, P4 (assessed 01:30 on 1 January) the reached;
    # no 2026 target for KL residents, so no reached_before.
    kl = by_pair["kim_lien", "residents"]
    assert (kl.baseline, kl.target, kl.enrolled, kl.reached, kl.remaining) == (
        None,
        None,
        6,
        5,
        None,
    )
    cl = by_pair["cat_linh", "workers"]
    assert (cl.target, cl.enrolled, cl.reached, cl.reached_percent, cl.remaining) == (
        5,
        1,
        0,
        0.0,
        5,
    )


def test_filters_by_ward_and_target_group(hand_computed):
    kim_lien = operations.progress(2025, ward="kim_lien")
    assert as_tuples(kim_lien.rows) == ROWS_2025[4:]
    assert figures(kim_lien.overall) == (1300, 1100, 7, 105, 8.1, 995)

    residents = operations.progress(2025, target_group="residents")
    assert as_tuples(residents.rows) == [ROWS_2025[1], ROWS_2025[5]]
    assert figures(residents.overall) == (2000, 943, 6, 110, 5.5, 833)

    one = operations.progress(2025, ward="hang_bot", target_group="civil_servants")
    assert as_tuples(one.rows) == [ROWS_2025[2]]


def test_the_default_year_is_this_year_in_hanoi(hand_computed):
    assert operations.progress().year == datetime.now(HANOI).year
    assert operations.current_year() == datetime.now(HANOI).year


def test_gap_shares_are_remaining_over_target(hand_computed):
    assert operations.gap_shares(2025) == pytest.approx(
        {
            ("cat_linh", "residents"): 137 / 143,
            ("hang_bot", "civil_servants"): 3 / 4,
            ("kim_lien", "students"): 299 / 300,
            ("kim_lien", "residents"): 696 / 800,
        }
    )
    assert operations.gap_shares(2026) == {("cat_linh", "workers"): 1.0}


def test_a_target_met_has_nothing_remaining(app, wards):
    _target("kim_lien", "residents", 2025, 10, 50, before=8)
    _target("cat_linh", "residents", 2025, 0, 80)
    db.session.commit()
    rows = {r.ward: r for r in operations.progress(2025).rows}

    assert (rows["kim_lien"].target, rows["kim_lien"].reached, rows["kim_lien"].remaining) == (
        5,
        8,
        0,
    )
    assert rows["cat_linh"].reached_percent is None  # a baseline of 0: no percentage
    assert operations.gap_shares(2025) == {
        ("kim_lien", "residents"): 0.0,
        ("cat_linh", "residents"): 0.0,
    }


def test_targets_round_up_on_the_percent_as_written():
    assert operations.target_of(1000, 14.3) == 143
    assert operations.target_of(7, 50.0) == 4
    assert operations.target_of(3, 33.3) == 1  # 0.999 -> 1
    assert operations.target_of(1000, 0.0) == 0
    assert operations.target_of(12000, 80) == 9600


# -- the API -------------------------------------------------------------------------------


def test_api_returns_the_same_figures(client, hand_computed, organizer_headers):
    response = client.get("/api/v1/progress?year=2025", headers=organizer_headers)

    assert response.status_code == 200
    body = response.json
    assert body["year"] == 2025
    assert [tuple(row[name] for name in FIELDS) for row in body["rows"]] == ROWS_2025
    assert body["rows"][0]["ward_name"] == "Phường Cát Linh"
    totals = body["totals"]
    assert {t["ward"]: tuple(t[n] for n in TOTAL_FIELDS) for t in totals["by_ward"]} == (
        BY_WARD_2025
    )
    assert {t["target_group"]: tuple(t[n] for n in TOTAL_FIELDS) for t in totals["by_group"]} == (
        BY_GROUP_2025
    )
    assert tuple(totals["overall"][n] for n in TOTAL_FIELDS) == OVERALL_2025
    assert SECRET_NAME not in response.get_data(as_text=True)


def test_api_filters_and_refuses_bad_filters(client, hand_computed, organizer_headers):
    response = client.get(
        "/api/v1/progress",
        query_string={"year": 2025, "ward": "kim_lien", "target_group": "residents"},
        headers=organizer_headers,
    )
    assert response.status_code == 200
    assert [tuple(row[n] for n in FIELDS) for row in response.json["rows"]] == [ROWS_2025[5]]

    for query, field in (
        ({"ward": "atlantis"}, "ward"),
        ({"target_group": "tourists"}, "target_group"),
        ({"year": "abc"}, "year"),
        ({"year": 1800}, "year"),
    ):
        assert_error(
            client.get("/api/v1/progress", query_string=query, headers=organizer_headers),
            422,
            field,
        )


def test_csv_export_has_the_figures_and_no_personal_data(client, hand_computed, organizer_headers):
    response = client.get("/api/v1/progress.csv?year=2025", headers=organizer_headers)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="progress-2025.csv"' in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheets then read the Vietnamese names right
    assert SECRET_NAME not in text
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    # The columns before levels, then the ones added with them.
    assert lines[0][12:] == ["level", "unit", "unit_name", "target_source", "includes"]
    assert lines[0][:12] == [
        "year",
        "ward",
        "ward_name",
        "target_group",
        "baseline",
        "target_percent",
        "target",
        "reached_before",
        "enrolled",
        "reached",
        "reached_percent",
        "remaining",
    ]
    assert [line[12:] for line in lines[1:3]] == [
        ["ward", "cat_linh", "Phường Cát Linh", "", ""],
        ["ward", "cat_linh", "Phường Cát Linh", "ward", ""],
    ]
    assert [line[:12] for line in lines[1:]] == [
        ["2025", "cat_linh", "Phường Cát Linh", "workers", "", "", "", "0", "1", "0", "", ""],
        [
            "2025",
            "cat_linh",
            "Phường Cát Linh",
            "residents",
            "1000",
            "14.3",
            "143",
            "5",
            "1",
            "6",
            "0.6",
            "137",
        ],
        ["2025", "hang_bot", "Phường Hàng Bột", "civil_servants", "7", "50.0", "4", "0"]
        + ["1", "1", "14.3", "3"],
        ["2025", "hang_bot", "Phường Hàng Bột", "youth_disabilities", "", "", "", "0"]
        + ["0", "0", "", ""],
        ["2025", "kim_lien", "Phường Kim Liên", "students", "300", "100.0", "300", "0"]
        + ["2", "1", "0.3", "299"],
        ["2025", "kim_lien", "Phường Kim Liên", "residents", "1000", "80.0", "800", "100"]
        + ["5", "104", "10.4", "696"],
    ]
    filtered = client.get(
        "/api/v1/progress.csv?year=2025&ward=hang_bot&target_group=civil_servants",
        headers=organizer_headers,
    )
    assert len(filtered.get_data(as_text=True).strip().splitlines()) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/progress"),
        ("get", "/api/v1/progress.csv"),
        ("post", "/api/v1/progress/targets"),
        ("get", "/api/v1/hours"),
        ("get", "/api/v1/hours?by=squad"),
        ("get", "/api/v1/hours.csv"),
    ],
)
def test_only_organizers_see_progress_and_hours(client, make_user, auth_headers, method, path):
    call = getattr(client, method)
    body = {"data": "ward\n", "content_type": "text/csv"} if method == "post" else {}
    assert_error(call(path, **body), 401)
    assert_error(call(path, headers=auth_headers(make_user("volunteer")), **body), 403)
    assert_error(call(path, headers=auth_headers(make_user("participant")), **body), 403)
