"""Progress at every level (ward, province, national) over a map with a merger, within
each organizer's units; numbers worked out by hand.

The map: the 17 old Đống Đa wards merged on 2025-07-01 (the shipped file): Láng Thượng
(LT) and Láng Hạ (LH) into 00187 Phường Láng (main successor of both), Kim Liên (KL),
Khương Thượng, Nam Đồng, Phương Liên - Trung Tự and Phương Mai into 00226 Phường Kim
Liên; all in Hanoi ("01"). Plus province "79" with one ward, 26734 Phường Sài Gòn (SG).

Plan year 2025:
- LT residents: P1 registered (S1, LT, March), reached; P2 registered, not reached.
- LH residents: P3 registered (S2, LH, May), reached; erased counts enrolled 1, reached 1.
- 00187 residents: P4 registered (S3, 00187, September), reached; P5 registered.
- LT students: P6 registered (S1), reached.
- KL residents: P7 registered (S4, KL, April), reached.
- SG residents: P8 registered (S5, SG, August), reached.
Targets 2025: LT residents 1000 × 80 % = 800 (reached_before 10); LH residents 500 × 70 %
= 350; LT students 150 × 100 % = 150; 00187 students 200 with no percent (the default,
100 %) = 200; 00226 residents 2000 × 80 % = 1600; SG residents 100 × 50 % = 50; Hanoi's
own residents target 10000 with no percent (default 80 %) = 8000 (reached_before 100).

Ward level:
- 00187 students: own target wins over LT's: 200 (default); enrolled 1 (P6), reached 1;
  0.5 %; remaining 199; includes LH and LT.
- 00187 residents: no own target: LT + LH = baseline 1500, target 800 + 350 = 1150,
  percent null (80 and 70), reached_before 10; enrolled P1 P2 P3 P4 P5 + 1 erased = 6;
  reached P1 P3 P4 + 1 erased + 10 = 14; 14/1500 = 0.93 -> 0.9 %; remaining 1136.
- 00226 residents: own 2000 / 1600; enrolled 1, reached 1; 1/2000 = 0.05 -> 0.1 %; 1599;
  includes its five former units.
- 26734 residents: 100 / 50; 1 / 1; 1.0 %; 49.
  overall: baseline 3800, target 3000, enrolled 9, reached 17 (0.4 %), remaining 2983.
Province level:
- 01 students: the wards' (no province target): 200 / 200 / 1 / 1 / 0.5 / 199.
- 01 residents: Hanoi's own target wins: baseline 10000, target 8000, reached_before 100
  (the wards' 10 no longer counts); enrolled 6 + 1 = 7; reached (4 + 1) people + 100 =
  105; 105/10000 = 1.05 -> 1.1 %; remaining 7895.
- 79 residents: the wards': 100 / 50 / 1 / 1 / 1.0 / 49.
National: students 200 / 200 / 1 / 1 / 0.5 / 199; residents: baseline 10100, target
8050, enrolled 8, reached 106, 106/10100 = 1.05 -> 1.0 %, remaining 7944.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from coordinator.demo import DATA
from coordinator.errors import Forbidden, Invalid
from coordinator.extensions import db
from coordinator.geography.changes import import_changes, parse_changes
from coordinator.geography.models import Province, Ward
from coordinator.people.scopes import scope_of, set_scopes
from coordinator.progress import levels, operations
from coordinator.progress.models import ErasedParticipantCount, PopulationTarget
from coordinator.progress.schemas import TargetProgressSchema, progress_body
from coordinator.progress.targets import import_targets
from tests.api_helpers import assert_error
from tests.page_helpers import log_in, text
from tests.progress.test_figures import _assess, _participant, _register, _session, hanoi

FIELDS = (
    "unit",
    "target_group",
    "baseline",
    "target_percent",
    "target",
    "reached_before",
    "enrolled",
    "reached",
    "reached_percent",
    "remaining",
    "target_source",
)
WARD_ROWS = [
    ("00187", "students", 200, 100.0, 200, 0, 1, 1, 0.5, 199, "ward"),
    ("00187", "residents", 1500, None, 1150, 10, 6, 14, 0.9, 1136, "wards"),
    ("00226", "residents", 2000, 80.0, 1600, 0, 1, 1, 0.1, 1599, "ward"),
    ("26734", "residents", 100, 50.0, 50, 0, 1, 1, 1.0, 49, "ward"),
]
PROVINCE_ROWS = [
    ("01", "students", 200, 100.0, 200, 0, 1, 1, 0.5, 199, "wards"),
    ("01", "residents", 10000, 80.0, 8000, 100, 7, 105, 1.1, 7895, "province"),
    ("79", "residents", 100, 50.0, 50, 0, 1, 1, 1.0, 49, "wards"),
]
NATIONAL_ROWS = [
    ("VN", "students", 200, 100.0, 200, 0, 1, 1, 0.5, 199, "provinces"),
    ("VN", "residents", 10100, None, 8050, 100, 8, 106, 1.0, 7944, "provinces"),
]
TOTALS = ("baseline", "target", "enrolled", "reached", "reached_percent", "remaining")
LANG_INCLUDES = [("lang_ha", "Phường Láng Hạ"), ("lang_thuong", "Phường Láng Thượng")]
KIM_LIEN_FORMER = ["khuong_thuong", "kim_lien", "nam_dong", "phuong_lien_trung_tu", "phuong_mai"]


def _target(unit, group, baseline, percent, before=0, *, province=False) -> None:
    db.session.add(
        PopulationTarget(
            ward=None if province else unit,
            province_code=unit if province else None,
            target_group=group,
            year=2025,
            baseline=baseline,
            target_percent=percent,
            reached_before=before,
        )
    )


@pytest.fixture
def merged(app, wards, competences):
    """The map of the module docstring: Dong Da merged, plus province 79 and one ward."""
    import_changes(parse_changes((DATA / "changes_2025_dong_da.csv").read_text("utf-8")))
    db.session.add(Province(code="79", slug="ho_chi_minh", name="TP Hồ Chí Minh", type="thanh_pho"))
    db.session.flush()
    db.session.add(Ward(code="26734", name="Phường Sài Gòn", province_code="79", type="phuong"))
    db.session.commit()


@pytest.fixture
def rolled(merged):
    """The participants, counts and targets of the module docstring."""
    s1 = _session("lang_thuong", "residents", hanoi(2025, 3, 10))
    s2 = _session("lang_ha", "residents", hanoi(2025, 5, 5))
    s3 = _session("00187", "residents", hanoi(2025, 9, 10))
    s4 = _session("kim_lien", "residents", hanoi(2025, 4, 1))
    s5 = _session("26734", "residents", hanoi(2025, 8, 1))
    db.session.flush()
    for ward, group, session, reached in (
        ("lang_thuong", "residents", s1, True),  # P1
        ("lang_thuong", "residents", s1, False),  # P2
        ("lang_ha", "residents", s2, True),  # P3
        ("00187", "residents", s3, True),  # P4
        ("00187", "residents", s3, False),  # P5
        ("lang_thuong", "students", s1, True),  # P6
        ("kim_lien", "residents", s4, True),  # P7
        ("26734", "residents", s5, True),  # P8
    ):
        person = _participant(ward, group)
        _register(person, session)
        if reached:
            _assess(person, session.starts_at)
    db.session.add(
        ErasedParticipantCount(ward="lang_ha", target_group="residents", enrolled=1, reached=1)
    )
    _target("lang_thuong", "residents", 1000, 80, before=10)
    _target("lang_ha", "residents", 500, 70)
    _target("lang_thuong", "students", 150, 100)
    _target("00187", "students", 200, None)
    _target("00226", "residents", 2000, 80)
    _target("26734", "residents", 100, 50)
    _target("01", "residents", 10000, None, before=100, province=True)
    db.session.commit()


def rows_of(report) -> list[tuple]:
    return [tuple(getattr(row, name) for name in FIELDS) for row in report.rows]


def organizer(make_user, *units):
    user = make_user("organizer")
    set_scopes(user, list(units))
    db.session.commit()
    return user


def test_ward_level_rolls_former_units_into_their_successor(rolled):
    report = operations.progress(2025)

    assert rows_of(report) == WARD_ROWS
    lang = report.rows[1]
    assert [(f.code, f.name) for f in lang.includes] == LANG_INCLUDES
    assert (lang.ward, lang.ward_name, lang.province) == ("00187", "Phường Láng", "01")
    assert report.rows[0].default_percent and not lang.default_percent
    assert [f.code for f in report.rows[2].includes] == KIM_LIEN_FORMER
    assert report.rows[3].includes == []
    assert tuple(getattr(report.overall, n) for n in TOTALS) == (3800, 3000, 9, 17, 0.4, 2983)
    assert list(report.by_ward) == ["00187", "00226", "26734"]


def test_province_level_prefers_the_provinces_own_target(rolled):
    report = operations.progress(2025, level="province")

    assert rows_of(report) == PROVINCE_ROWS
    hanoi_residents = report.rows[1]
    assert (hanoi_residents.unit_name, hanoi_residents.ward, hanoi_residents.level) == (
        "Thành phố Hà Nội",
        None,
        "province",
    )
    assert hanoi_residents.default_percent
    assert {"lang_ha", "lang_thuong", "kim_lien"} <= {f.code for f in hanoi_residents.includes}
    assert report.by_ward == {} and list(report.by_unit) == ["01", "79"]
    assert tuple(getattr(report.overall, n) for n in TOTALS) == (10300, 8250, 9, 107, 1.0, 8143)


def test_national_level_sums_the_provinces(rolled):
    report = operations.progress(2025, level="national")

    assert rows_of(report) == NATIONAL_ROWS
    assert tuple(getattr(report.overall, n) for n in TOTALS) == (10300, 8250, 9, 107, 1.0, 8143)


def test_the_unit_filter(rolled):
    assert rows_of(operations.progress(2025, unit="00187")) == WARD_ROWS[:2]
    assert rows_of(operations.progress(2025, ward="00187")) == WARD_ROWS[:2]
    assert rows_of(operations.progress(2025, unit="01")) == WARD_ROWS[:3]
    assert (
        rows_of(operations.progress(2025, unit="ha_noi", level="province")) == (PROVINCE_ROWS[:2])
    )
    # A former unit on its own: its own figures and targets, nothing rolled into it.
    old = operations.progress(2025, unit="lang_thuong")
    assert rows_of(old) == [
        ("lang_thuong", "students", 150, 100.0, 150, 0, 1, 1, 0.7, 149, "ward"),
        ("lang_thuong", "residents", 1000, 80.0, 800, 10, 2, 11, 1.1, 789, "ward"),
    ]
    assert old.rows[0].includes == []
    for kwargs, field in (
        ({"unit": "atlantis"}, "unit"),
        ({"ward": "atlantis"}, "ward"),
        ({"unit": "00187", "level": "province"}, "unit"),
        ({"unit": "01", "level": "national"}, "unit"),
        ({"level": "district"}, "level"),
    ):
        with pytest.raises(Invalid) as refused:
            operations.progress(2025, **kwargs)
        assert field in refused.value.messages, kwargs


def test_each_organizer_sees_their_units_only(rolled, make_user):
    ward_scope = scope_of(organizer(make_user, "00187"))
    assert rows_of(operations.progress(2025, scope=ward_scope)) == WARD_ROWS[:2]
    assert operations.progress(2025, scope=ward_scope).rows[1].includes[0].code == "lang_ha"
    for kwargs in ({"unit": "00226"}, {"unit": "01"}, {"level": "province"}, {"level": "national"}):
        with pytest.raises(Forbidden):
            operations.progress(2025, scope=ward_scope, **kwargs)

    province_scope = scope_of(organizer(make_user, "ha_noi"))
    assert rows_of(operations.progress(2025, scope=province_scope)) == WARD_ROWS[:3]
    assert (
        rows_of(operations.progress(2025, scope=province_scope, level="province"))
        == (PROVINCE_ROWS[:2])
    )
    assert rows_of(operations.progress(2025, scope=province_scope, unit="lang_ha")) == [
        ("lang_ha", "residents", 500, 70.0, 350, 0, 2, 2, 0.4, 348, "ward")
    ]
    for kwargs in ({"unit": "79"}, {"unit": "26734"}, {"level": "national"}):
        with pytest.raises(Forbidden):
            operations.progress(2025, scope=province_scope, **kwargs)


def test_gap_shares_reach_former_units_too(rolled):
    shares = operations.gap_shares(2025)
    assert shares["00187", "residents"] == shares["lang_thuong", "residents"] == 1136 / 1150


def test_gap_shares_of_a_runs_wards_are_read_narrowly_and_are_the_same(rolled):
    everywhere = operations.gap_shares(2025)
    for wards in ({"00187"}, {"00187", "00226"}, {"00187", "26734"}):  # a ward, a province, two
        narrow = operations.gap_shares(2025, wards)
        mine = {key: share for key, share in narrow.items() if key[0] in wards}
        assert mine and mine == {k: v for k, v in everywhere.items() if k[0] in wards}
    assert operations._narrowest_unit({"00187", "00226"}) == "01"
    assert operations._narrowest_unit({"00187", "26734"}) is None


# -- the API and the CSV ------------------------------------------------------------------


def test_api_answers_each_level_within_the_callers_units(client, rolled, make_user, auth_headers):
    national = auth_headers(make_user("organizer"))
    body = client.get("/api/v1/progress?year=2025", headers=national).json
    assert body["level"] == "ward"
    assert [tuple(r[n] for n in FIELDS) for r in body["rows"]] == WARD_ROWS
    assert [(f["code"], f["name"]) for f in body["rows"][1]["includes"]] == LANG_INCLUDES
    assert [t["unit"] for t in body["totals"]["by_unit"]] == ["00187", "00226", "26734"]
    assert body["totals"]["by_ward"] == [
        {"ward": t.pop("unit"), **t} for t in body["totals"]["by_unit"]
    ]

    province = client.get("/api/v1/progress?year=2025&level=province", headers=national).json
    assert [tuple(r[n] for n in FIELDS) for r in province["rows"]] == PROVINCE_ROWS
    assert province["totals"]["by_ward"] == []
    country = client.get("/api/v1/progress?year=2025&level=national", headers=national).json
    assert [tuple(r[n] for n in FIELDS) for r in country["rows"]] == NATIONAL_ROWS

    lang = auth_headers(organizer(make_user, "00187"))
    mine = client.get("/api/v1/progress?year=2025", headers=lang).json
    assert [r["unit"] for r in mine["rows"]] == ["00187", "00187"]
    assert_error(client.get("/api/v1/progress?year=2025&unit=00226", headers=lang), 403)
    assert_error(client.get("/api/v1/progress?level=national", headers=lang), 403)
    assert_error(client.get("/api/v1/progress.csv?unit=01", headers=lang), 403)
    assert_error(client.get("/api/v1/progress?unit=atlantis", headers=national), 422, "unit")
    assert_error(client.get("/api/v1/progress?level=district", headers=national), 422, "level")


def test_csv_at_province_level(client, rolled, make_user, auth_headers):
    headers = auth_headers(organizer(make_user, "01"))
    response = client.get("/api/v1/progress.csv?year=2025&level=province", headers=headers)

    assert response.status_code == 200
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["unit"], r["target_group"], r["target_source"]) for r in lines] == [
        ("01", "students", "wards"),
        ("01", "residents", "province"),
    ]
    residents = lines[1]
    assert (residents["level"], residents["ward"], residents["unit_name"]) == (
        "province",
        "",
        "Thành phố Hà Nội",
    )
    assert (residents["target"], residents["reached"], residents["remaining"]) == (
        "8000",
        "105",
        "7895",
    )
    assert "Phường Láng Hạ" in residents["includes"]
    wards = client.get("/api/v1/progress.csv?year=2025", headers=headers).get_data(as_text=True)
    row = next(
        r for r in csv.DictReader(io.StringIO(wards.lstrip("\ufeff"))) if r["reached"] == "14"
    )
    assert row["includes"] == "Phường Láng Hạ; Phường Láng Thượng"


# -- targets: the unit column and the movement's defaults -----------------------------------


def test_targets_import_takes_a_unit_column(merged):
    report = import_targets(
        "unit,target_group,year,baseline,target_percent,reached_before\n"
        "00187,residents,2026,9000,75,\n"  # a ward by code
        "ha_noi,students,2026,250000,,\n"  # a province by slug; the default percent
        "79,civil_servants,2026,3000,,5\n"  # a province by code; the default percent
        "01,workers,2026,1000,,\n"  # no default for workers: the percent is needed
        "atlantis,residents,2026,10,50,\n"
    )
    assert report.errors == {
        5: ["target_percent: Bắt buộc (nhóm này không có mức mặc định)."],
        6: ["unit: Không có tỉnh hay phường 'atlantis'."],
    }
    report = import_targets(
        "ward,unit,target_group,year,baseline,target_percent\n"
        "00187,,residents,2026,9000,75\n"
        ",ha_noi,students,2026,250000,\n"
        ",79,civil_servants,2026,3000,\n"
        "00187,01,workers,2026,10,50\n"
    )
    assert report.errors == {5: ["unit: ward và unit là hai đơn vị khác nhau."]}
    report = import_targets(
        "unit,target_group,year,baseline,target_percent\n"
        "00187,residents,2026,9000,75\n"
        "ha_noi,students,2026,250000,\n"
        "79,civil_servants,2026,3000,\n"
        "01,students,2026,260000,\n"  # the same province and group as line 3
    )
    assert report.errors == {5: ["Trùng tỉnh, nhóm và năm với dòng 3."]}
    report = import_targets(
        "unit,target_group,year,baseline,target_percent\n"
        "00187,residents,2026,9000,75\n"
        "ha_noi,students,2026,250000,\n"
        "79,civil_servants,2026,3000,\n"
    )
    db.session.commit()
    assert (report.created, report.errors) == (3, {})
    stored = {
        (t.ward, t.province_code, t.target_group, t.baseline, t.target_percent)
        for t in db.session.query(PopulationTarget)
    }
    assert stored == {
        ("00187", None, "residents", 9000, 75.0),
        (None, "01", "students", 250000, None),
        (None, "79", "civil_servants", 3000, None),
    }
    report = import_targets(
        "unit,target_group,year,baseline,target_percent\n01,students,2026,1,90\n"
    )
    db.session.commit()
    assert (report.created, report.updated) == (0, 1)

    rows = {(r.unit, r.target_group): r for r in operations.progress(2026, level="province").rows}
    hanoi_students, hcm_staff = rows["01", "students"], rows["79", "civil_servants"]
    assert (hanoi_students.target, hanoi_students.target_percent) == (1, 90.0)
    assert not hanoi_students.default_percent
    assert (hcm_staff.target, hcm_staff.target_percent, hcm_staff.default_percent) == (
        2400,
        80.0,
        True,
    )
    assert rows["01", "residents"].target_source == "wards"


def test_defaults_come_from_the_configuration(app, merged):
    _target("00187", "students", 300, None)
    db.session.commit()
    assert operations.progress(2025).rows[0].target == 300  # 100 % of students
    app.config["PROGRESS_DEFAULT_TARGET_PERCENT"] = {"students": 50}
    assert operations.progress(2025).rows[0].target == 150


def test_a_header_needs_ward_or_unit(merged):
    report = import_targets("target_group,year,baseline,target_percent\nresidents,2026,1,1\n")
    assert report.errors == {1: ["Thiếu cột: ward hoặc unit."]}


# -- the page --------------------------------------------------------------------------------


def test_the_page_switches_level_and_names_the_former_units(client, rolled, make_user):
    log_in(client, organizer(make_user, "ha_noi").email)

    page = text(client.get("/organize/progress?year=2025"))
    assert "Phường Láng" in page
    assert "gồm cả các đơn vị cũ: Phường Láng Hạ, Phường Láng Thượng" in page
    assert "tổng chỉ tiêu của các phường cũ" in page  # 00187 residents: LT + LH
    assert "Phường Sài Gòn" not in page  # province 79 is not this organizer's
    levels = re.search(r'<select[^>]*name="level".*?</select>', page, re.S).group(0)
    assert 'value="province"' in levels and 'value="national"' not in levels
    # Every table scrolls inside its own box: a 390 px screen never scrolls the page.
    assert page.count("<table") == page.count('<div class="table-scroll"') > 0

    province = text(client.get("/organize/progress?year=2025&level=province"))
    assert "Thành phố Hà Nội" in province and "chỉ tiêu riêng của tỉnh" in province
    assert "mức mặc định của phong trào" in province
    row = re.search(
        r"<th scope=\"row\">Thành phố Hà Nội.*?<td>Người dân</td>(.*?)</tr>", province, re.S
    )
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[0] == "10.000" and cells[2].startswith("8.000") and cells[4] == "105"

    csv_text = client.get("/organize/progress.csv?year=2025&level=province").get_data(as_text=True)
    assert [r["unit"] for r in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))] == [
        "01",
        "01",
    ]
    # A level or a unit outside the organizer's units is refused as a bad filter.
    refused = client.get("/organize/progress?year=2025&level=national&unit=26734")
    assert refused.status_code == 422
    assert "Phường Sài Gòn" not in text(refused)


def test_the_older_ward_links_still_filter(client, rolled, make_user):
    log_in(client, make_user("organizer").email)
    page = text(client.get("/organize/progress?year=2025&ward=00226"))
    rows = re.findall(r'<th scope="row">([^<]*)', page)
    assert "Phường Kim Liên" in rows and "Phường Láng" not in rows
    wrong = client.get("/organize/progress?year=2025&level=province&unit=00187")
    assert wrong.status_code == 422 and "level=province" in text(wrong)


@pytest.mark.parametrize("level", ["ward", "province", "national"])
@pytest.mark.parametrize("source", ["computed", "stored"])
def test_the_api_body_is_what_the_schema_dumps(rolled, level, source):
    """`progress_body` builds the JSON without marshmallow (for speed); it must be what the
    documented schema gives, from a computed report and from the kept rows alike."""
    if source == "stored":
        levels.refresh()
        db.session.commit()
        report, _total = levels.stored_page(2025, level, None, 1000, 0)
    else:
        report = operations.progress(2025, level=level)
    figures = ("baseline", "target", "enrolled", "reached", "reached_percent", "remaining")

    def plain(totals) -> list[dict]:
        return [{name: getattr(v, name) for name in figures} for v in totals.values()]

    dumped = TargetProgressSchema().dump(
        {
            "year": report.year,
            "level": report.level,
            "rows": report.rows,
            "totals": {
                "by_unit": [
                    {"unit": k, **f}
                    for k, f in zip(report.by_unit, plain(report.by_unit), strict=True)
                ],
                "by_ward": [
                    {"ward": k, **f}
                    for k, f in zip(report.by_ward, plain(report.by_ward), strict=True)
                ],
                "by_group": [
                    {"target_group": k, **f}
                    for k, f in zip(report.by_group, plain(report.by_group), strict=True)
                ],
                "overall": report.overall,
            },
        }
    )
    body = progress_body(report)
    assert report.rows and any(row.includes for row in report.rows)
    assert json.dumps(body, sort_keys=True) == json.dumps(dumped, sort_keys=True)
