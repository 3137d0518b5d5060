"""Public reference data: wards, the competence framework, levels and vocabularies."""

from __future__ import annotations

import pytest

from coordinator.extensions import db
from tests.api_helpers import assert_error

DEMO_WARD_COUNT = 17


# Wards


def test_wards_list_has_the_17_demo_wards_sorted_by_code(client, wards):
    response = client.get("/api/v1/wards")

    assert response.status_code == 200
    codes = [w["code"] for w in response.json]
    assert len(codes) == DEMO_WARD_COUNT
    assert codes == sorted(codes)
    assert set(wards) <= set(codes)


def test_every_ward_has_a_vietnamese_name_and_the_district(client, wards):
    by_code = {w["code"]: w for w in client.get("/api/v1/wards").json}

    assert by_code["kim_lien"]["name"] == "Phường Kim Liên"
    assert by_code["kim_lien"]["name_en"] == "Kim Lien Ward"
    assert {w["district"] for w in by_code.values()} == {"dong_da"}
    assert all(w["name"].startswith("Phường ") for w in by_code.values())


def test_ward_neighbours_are_known_wards_symmetric_and_never_self(client, wards):
    by_code = {w["code"]: set(w["neighbors"]) for w in client.get("/api/v1/wards").json}

    assert all(by_code.values()), "every ward borders at least one other"
    for code, neighbours in by_code.items():
        assert code not in neighbours
        for other in neighbours:
            assert code in by_code[other], f"{other} does not list {code}"


def test_kim_lien_borders_exactly_its_three_neighbours(client, wards):
    response = client.get("/api/v1/wards/kim_lien")

    assert response.status_code == 200
    assert response.json["neighbors"] == ["khuong_thuong", "phuong_lien_trung_tu", "phuong_mai"]


def test_one_ward_matches_its_entry_in_the_list(client, wards):
    listed = {w["code"]: w for w in client.get("/api/v1/wards").json}

    assert client.get("/api/v1/wards/hang_bot").json == listed["hang_bot"]


def test_a_neighbour_listed_on_one_side_only_is_made_symmetric(client, wards):
    from coordinator.geography.operations import import_wards

    import_wards([{"code": "moi", "name": "Phường Mới", "neighbors": ["cat_linh"]}])
    db.session.commit()

    assert client.get("/api/v1/wards/moi").json["neighbors"] == ["cat_linh"]
    assert "moi" in client.get("/api/v1/wards/cat_linh").json["neighbors"]


@pytest.mark.parametrize("code", ["atlantis", "KIM_LIEN", "kim%20lien", "kim%00lien", "x" * 300])
def test_unknown_ward_is_404(client, wards, code):
    assert_error(client.get(f"/api/v1/wards/{code}"), 404)


def test_wards_list_is_empty_before_any_import(client):
    assert client.get("/api/v1/wards").json == []


# Competences


def test_competences_list_each_area_followed_by_its_competences(client, competences):
    response = client.get("/api/v1/competences")

    assert response.status_code == 200
    assert [c["code"] for c in response.json] == [
        *["1", "1.1", "1.2", "1.3"],
        *["2", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6"],
        *["3", "3.1", "3.2", "3.3", "3.4"],
        *["4", "4.1", "4.2", "4.3", "4.4"],
        *["5", "5.1", "5.2", "5.3", "5.4"],
        *["6", "6.1", "6.2", "6.3"],
    ]


def test_areas_have_no_area_and_competences_name_their_area(client, competences):
    items = client.get("/api/v1/competences").json

    areas = [c for c in items if c["area"] is None]
    assert [a["code"] for a in areas] == ["1", "2", "3", "4", "5", "6"]
    for item in items:
        if item["area"] is not None:
            assert item["code"].split(".")[0] == item["area"]
        assert item["name"] and item["name_en"] and item["name"] != item["name_en"]


def test_first_area_has_its_vietnamese_name(client, competences):
    first = client.get("/api/v1/competences").json[0]

    assert first == {
        "code": "1",
        "name": "Khai thác dữ liệu và thông tin",
        "name_en": first["name_en"],
        "area": None,
    }


def test_competences_are_empty_before_the_framework_is_imported(client):
    assert client.get("/api/v1/competences").json == []


def test_eight_proficiency_levels_in_order(client, competences):
    response = client.get("/api/v1/competences/levels")

    assert response.status_code == 200
    assert [level["level"] for level in response.json] == list(range(1, 9))
    assert response.json[0]["name"] == "Cơ bản 1"
    assert all(level["name"] and level["name_en"] for level in response.json)


def test_importing_the_framework_twice_changes_nothing(client, competences):
    from coordinator.competences.operations import import_framework_file

    before = client.get("/api/v1/competences").json
    import_framework_file()
    db.session.commit()

    assert client.get("/api/v1/competences").json == before
    assert len(client.get("/api/v1/competences/levels").json) == 8


# Vocabularies


def test_target_groups_are_exactly_the_five_contract_codes_with_vietnamese_labels(client):
    response = client.get("/api/v1/vocabularies")

    assert response.status_code == 200
    labels = {t["code"]: t["label"] for t in response.json["target_group"]}
    assert labels == {
        "civil_servants": "Cán bộ, công chức, viên chức",
        "students": "Học sinh, sinh viên",
        "workers": "Người lao động trong doanh nghiệp",
        "residents": "Người dân",
        "youth_disabilities": "Thanh niên khuyết tật",
    }


@pytest.mark.parametrize(
    ("vocabulary", "codes"),
    [
        (
            "accessibility_skills",
            ["sign_language", "screen_reader", "easy_read", "low_vision", "mobility"],
        ),
        ("venue_accessibility", ["wheelchair", "hearing_loop", "accessible_toilet", "quiet_room"]),
        ("roles", ["lead", "helper", "interpreter"]),
        ("languages", ["vi", "en"]),
    ],
)
def test_vocabulary_has_the_contract_codes(client, vocabulary, codes):
    terms = client.get("/api/v1/vocabularies").json[vocabulary]

    assert [t["code"] for t in terms] == codes
    assert all(t["label"] and t["label_en"] and t["label"] != t["label_en"] for t in terms)


def test_admin_added_term_extends_open_vocabularies_but_not_target_groups(client):
    from coordinator.vocabularies.models import VocabularyTerm

    db.session.add(VocabularyTerm(vocabulary="venue_accessibility", code="ramp", label="Đường dốc"))
    db.session.add(VocabularyTerm(vocabulary="target_group", code="wheelchair", label="Sai"))
    db.session.commit()

    body = client.get("/api/v1/vocabularies").json

    assert body["venue_accessibility"][-1] == {
        "code": "ramp",
        "label": "Đường dốc",
        "label_en": None,
    }
    assert len(body["target_group"]) == 5


# Read-only


@pytest.mark.parametrize("path", ["/api/v1/wards", "/api/v1/competences", "/api/v1/vocabularies"])
def test_reference_data_cannot_be_written(client, wards, competences, organizer_headers, path):
    response = client.post(path, json={"code": "x", "name": "x"}, headers=organizer_headers)

    assert_error(response, 405)
