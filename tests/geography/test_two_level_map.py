"""The two-level map: the national import, merger files, unit history and the map API."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from coordinator.demo import DATA
from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.changes import import_changes, parse_changes
from coordinator.geography.models import Province, Ward, ward_successors
from coordinator.geography.national import import_national, national_data
from coordinator.geography.operations import history_of, require_ward, roll_up_map
from tests.api_helpers import assert_error

DONG_DA_CHANGES = DATA / "changes_2025_dong_da.csv"


def _counts():
    provinces = db.session.scalar(sa.select(sa.func.count()).select_from(Province))
    types = Counter(
        db.session.scalars(sa.select(Ward.type).where(Ward.code.regexp_match("^[0-9]{5}$")))
    )
    return provinces, types


@pytest.fixture
def national(app):
    report = import_national()
    db.session.commit()
    return report


def test_the_national_import_has_34_provinces_and_3321_units_of_three_types(app, national):
    provinces, types = _counts()

    assert provinces == 34
    assert sum(types.values()) == 3321
    assert types == {"xa": 2621, "phuong": 687, "dac_khu": 13}
    assert len(national.created) == 3321
    hanoi = db.session.get(Province, "01")
    assert (hanoi.name, hanoi.slug, hanoi.type) == ("Thành phố Hà Nội", "ha_noi", "thanh_pho")
    lang = db.session.get(Ward, "00187")
    assert (lang.name, lang.province_code, lang.slug) == ("Phường Láng", "01", "ha_noi_phuong_lang")
    assert lang.valid_from == date(2025, 7, 1) and lang.valid_to is None
    slugs = db.session.scalars(sa.select(Ward.slug).where(Ward.slug.is_not(None))).all()
    assert len(slugs) == len(set(slugs)) == 3321  # unique, though 293 names repeat


def test_importing_again_changes_nothing(app, national):
    columns = (Ward.code, Ward.slug, Ward.name, Ward.type, Ward.province_code)
    before = db.session.execute(sa.select(*columns).order_by(Ward.code)).all()

    again = import_national()
    db.session.commit()

    assert (again.created, again.renamed, again.unlisted) == ([], [], [])
    after = db.session.execute(sa.select(*columns).order_by(Ward.code)).all()
    assert after == before


def test_a_rename_in_newer_data_is_applied_and_a_unit_no_longer_listed_is_kept(app, national):
    data = copy.deepcopy(national_data())
    hanoi = next(p for p in data if p["code"] == 1)
    unit = next(u for u in hanoi["wards"] if u["code"] == 187)
    unit["name"], unit["codename"] = "Phường Láng Mới", "phuong_lang_moi"
    hanoi["wards"] = [u for u in hanoi["wards"] if u["code"] != 190]

    report = import_national(data)
    db.session.commit()

    assert report.renamed == [("00187", "Phường Láng", "Phường Láng Mới")]
    assert db.session.get(Ward, "00187").slug == "ha_noi_phuong_lang_moi"
    assert report.unlisted == ["00190"]
    assert db.session.get(Ward, "00190") is not None  # its history stays


def test_the_shipped_dong_da_merger_ends_the_17_wards_and_rolls_them_into_5(app, wards):
    changed = import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    db.session.commit()

    assert changed == 30
    old = db.session.scalars(sa.select(Ward).where(Ward.district == "dong_da")).all()
    assert len(old) == 17
    assert {w.valid_to for w in old} == {date(2025, 6, 30)}
    roll_up = roll_up_map()
    assert set(roll_up) == {w.code for w in old}
    assert set(roll_up.values()) == {"00187", "00190", "00196", "00226", "00235"}
    assert history_of("00187") == ["00187", "lang_ha", "lang_thuong"]
    # applying the file again adds nothing
    assert import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8"))) == 0


def test_a_chain_of_reorganisations_rolls_up_to_the_unit_of_today(app, wards):
    import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    text = "old_code,new_code,new_name,province,date,main\n00187,99999,Phường X,01,2026-01-01,\n"

    import_changes(parse_changes(text))
    db.session.commit()

    assert roll_up_map()["lang_thuong"] == "99999"
    assert set(history_of("99999")) == {"99999", "00187", "lang_ha", "lang_thuong"}


def test_a_bad_changes_file_names_each_problem_and_changes_nothing(app, wards):
    text = (
        "old_code,new_code,new_name,province,date,main\n"
        "nowhere,00187,Phường Láng,01,2025-07-01,yes\n"
        "lang_ha,00187,,,2025-07-01,yes\n"
        "lang_thuong,00188,Phường Y,99,2025-07-32,maybe\n"
        "kim_lien,00226,Phường Kim Liên,01,2025-07-01,no\n"
        "kim_lien,00235,Phường Đống Đa,01,2025-07-01,no\n"
    )

    with pytest.raises(Invalid) as caught:
        parse_changes(text)

    errors = caught.value.messages  # in the default language, Vietnamese
    assert "old_code: không có đơn vị 'nowhere'." in errors["line 2"]
    assert "hãy ghi new_name và province" in " ".join(errors["line 3"])
    assert {
        "date: viết ngày theo dạng YYYY-MM-DD.",
        "main: có (yes) hoặc không (no).",
        "province: không có tỉnh '99'.",
    } <= set(errors["line 4"])
    assert errors["kim_lien"] == ["main: phải có đúng một đơn vị kế thừa chính."]
    with force_locale("en"):
        errors = caught.value.messages
    assert {"date: write the date as YYYY-MM-DD.", "main: yes or no."} <= set(errors["line 4"])
    assert errors["kim_lien"] == ["main: exactly one successor must be main."]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ward_successors)) == 0


def test_new_things_go_into_todays_units_with_a_message_naming_the_successor(app, wards):
    import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    db.session.commit()

    assert require_ward("lang_thuong").code == "lang_thuong"  # reading history is fine
    with pytest.raises(Invalid) as caught:
        require_ward("lang_thuong", current=True)
    assert "Phường Láng" in caught.value.messages["ward"][0]


def test_a_session_in_a_merged_ward_is_refused_with_its_successor_named(
    client, wards, organizer_headers, session_payload
):
    import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    db.session.commit()

    response = client.post(
        "/api/v1/sessions",
        json={**session_payload(), "ward": "lang_thuong"},
        headers=organizer_headers,
    )

    assert_error(response, 422, "ward")
    assert "Phường Láng" in response.json["messages"]["ward"][0]


def test_the_cli_imports_the_country_and_a_merger_file(runner, wards):
    result = runner.invoke(args=["geography", "import-national"])
    assert result.exit_code == 0, result.output
    assert "34 provinces, 3321 units" in result.output

    result = runner.invoke(args=["geography", "import-changes", str(DONG_DA_CHANGES)])
    assert result.exit_code == 0, result.output
    assert "30 successor links" in result.output


def test_the_cli_says_what_is_wrong_with_a_changes_file(runner, wards, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("old_code,new_code,date\nlang_ha,00187,tomorrow\n", encoding="utf-8")

    result = runner.invoke(args=["geography", "import-changes", str(bad)])

    assert result.exit_code == 1
    assert "line 2" in result.output and "date: viết ngày theo dạng YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_provinces_and_paged_units_of_one_province(client, national):
    provinces = client.get("/api/v1/provinces")
    assert provinces.status_code == 200
    assert len(provinces.json) == 34
    assert provinces.json[0] == {
        "code": "01",
        "slug": "ha_noi",
        "name": "Thành phố Hà Nội",
        "name_en": None,
        "type": "thanh_pho",
    }

    first = client.get("/api/v1/wards?province=01&limit=50")
    second = client.get("/api/v1/wards?province=01&limit=50&offset=50")
    rest = client.get("/api/v1/wards?province=01&limit=50&offset=100")

    assert first.headers["X-Total-Count"] == "126"  # Hanoi's units since July 2025
    codes = [w["code"] for w in first.json + second.json + rest.json]
    assert len(codes) == len(set(codes)) == 126 and codes == sorted(codes)
    lang = client.get("/api/v1/wards/00187").json
    assert lang["province"] == "01" and lang["type"] == "phuong"
    assert lang["district"] is None and lang["valid_to"] is None
    assert client.get("/api/v1/wards/ha_noi_phuong_lang").json["code"] == "00187"
    assert client.get("/api/v1/wards?limit=0").status_code == 422


def test_an_ended_unit_lists_its_successors_main_first(client, wards):
    import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    db.session.commit()

    lang_ha = client.get("/api/v1/wards/lang_ha").json

    assert lang_ha["valid_to"] == "2025-06-30"
    assert lang_ha["successors"] == ["00187", "00190", "00235"]
    assert lang_ha["district"] == "dong_da"
    current = client.get("/api/v1/wards?current=true")
    assert "lang_ha" not in {w["code"] for w in current.json}
    assert "00187" in {w["code"] for w in current.json}


def test_an_organizer_edits_neighbours_and_they_stay_symmetric(
    client, wards, organizer_headers, auth_headers, make_user
):
    response = client.put(
        "/api/v1/wards/kim_lien/neighbors",
        json={"neighbors": ["cat_linh", "hang_bot"]},
        headers=organizer_headers,
    )

    assert response.status_code == 200
    assert response.json["neighbors"] == ["cat_linh", "hang_bot"]
    assert "kim_lien" in client.get("/api/v1/wards/cat_linh").json["neighbors"]
    assert "kim_lien" not in client.get("/api/v1/wards/phuong_mai").json["neighbors"]
    unknown = client.put(
        "/api/v1/wards/kim_lien/neighbors",
        json={"neighbors": ["atlantis"]},
        headers=organizer_headers,
    )
    assert_error(unknown, 422, "neighbors")
    assert client.get("/api/v1/wards/kim_lien").json["neighbors"] == ["cat_linh", "hang_bot"]
    volunteer = auth_headers(make_user("volunteer"))
    refused = client.put(
        "/api/v1/wards/kim_lien/neighbors", json={"neighbors": []}, headers=volunteer
    )
    assert refused.status_code == 403


def test_the_cli_applies_a_rename_from_a_newer_file_and_keeps_units_it_no_longer_lists(
    runner, national
):
    fixture = Path(__file__).parent / "data" / "hanoi_with_a_rename.json"  # Hanoi only

    result = runner.invoke(args=["geography", "import-national", "--file", str(fixture)])

    assert result.exit_code == 0, result.output
    assert "1 provinces, 126 units" in result.output
    assert "renamed 00187: Phường Láng -> Phường Láng Mới" in result.output
    assert f"{3321 - 126} units are no longer listed" in result.output
    assert db.session.get(Ward, "00187").name == "Phường Láng Mới"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ward)) == 3321


def test_the_cli_refuses_a_file_that_is_not_the_packages_format(runner, app, tmp_path):
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"provinces": []}', encoding="utf-8")

    result = runner.invoke(args=["geography", "import-national", "--file", str(wrong)])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Province)) == 0


def test_a_ward_organizer_edits_only_their_own_units_neighbours(
    client, wards, make_user, auth_headers
):
    from coordinator.people.scopes import set_scopes

    organizer = make_user("organizer")
    set_scopes(organizer, ["kim_lien"])
    db.session.commit()
    headers = auth_headers(organizer)

    mine = client.put(
        "/api/v1/wards/kim_lien/neighbors", json={"neighbors": ["phuong_mai"]}, headers=headers
    )
    theirs = client.put("/api/v1/wards/cat_linh/neighbors", json={"neighbors": []}, headers=headers)

    assert mine.status_code == 200 and mine.json["neighbors"] == ["phuong_mai"]
    assert theirs.status_code == 403
    assert client.get("/api/v1/wards/cat_linh").json["neighbors"] != []


def test_a_page_of_units_is_what_the_schema_dumps(client, wards):
    """GET /api/v1/wards builds its body directly (api.ward_page_body), not through
    marshmallow: the same JSON as WardSchema dumps, for current and ended units (dates,
    successors, neighbours, nulls), on every page."""
    from coordinator.geography.api import WardSchema, _ward_dicts

    import_changes(parse_changes(DONG_DA_CHANGES.read_text(encoding="utf-8")))
    db.session.commit()
    codes = db.session.scalars(sa.select(Ward.code).order_by(Ward.code)).all()
    ended = db.session.scalar(sa.select(sa.func.count()).where(Ward.valid_to.is_not(None)))
    assert ended > 0 and len(codes) > 5
    seen = []
    for offset in range(0, len(codes), 4):
        page = client.get(f"/api/v1/wards?limit=4&offset={offset}")
        units = [db.session.get(Ward, code) for code in codes[offset : offset + 4]]
        assert page.json == WardSchema(many=True).dump(_ward_dicts(units))
        seen += page.json
    assert [w["code"] for w in seen] == codes
    assert any(w["successors"] for w in seen) and any(w["neighbors"] for w in seen)
    assert any(w["valid_to"] for w in seen) and any(w["valid_from"] for w in seen)
    assert client.get(f"/api/v1/wards?offset={len(codes)}").json == []
