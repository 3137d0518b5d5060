"""The one input rule for typed text (`coordinator.text.clean_text`), through the API:
NFC so one name has one spelling, lone surrogates replaced, NUL a clear 422 (never a
500: PostgreSQL text cannot hold it), control characters refused on a single line."""

from __future__ import annotations

import json
import unicodedata

import pytest
import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from coordinator.squads.models import Squad
from coordinator.text import TextRefused, clean_text, header_text, ical_text

NAME_NFC = unicodedata.normalize("NFC", "Đội Kim Liên – Nguyễn Thị Hường")
NAME_NFD = unicodedata.normalize("NFD", NAME_NFC)


def test_the_rule():
    assert NAME_NFC != NAME_NFD
    assert clean_text(NAME_NFD, multiline=False) == NAME_NFC
    assert clean_text("  Lan \u2028Anh ", multiline=False) == "Lan  Anh"
    for bad in ("Lan\tAnh", "Lan\r\nAnh", "Lan\x1bAnh", "Lan\x7f"):
        with pytest.raises(TextRefused) as refused:
            clean_text(bad, multiline=False)
        assert refused.value.code == "control"
    with pytest.raises(TextRefused) as refused:
        clean_text("a\x00b", multiline=True)
    assert refused.value.code == "nul"
    assert clean_text(" Dòng 1\r\nDòng 2\rDòng\t3\x0c\u2029x\ud800 ", multiline=True) == (
        "Dòng 1\nDòng 2\nDòng\t3 \nx\ufffd"
    )
    assert header_text("Buổi học\r\nđiện\tthoại\u2028\x00 ") == "Buổi học điện thoại"
    assert ical_text("a\r\nb\x00c\ud800").to_ical() == "a\\nb c\ufffd".encode()


def test_a_squad_name_in_nfc_and_in_nfd_is_one_squad(client, organizer_headers, make_volunteer):
    leader_id, _ = make_volunteer()
    first = client.post(
        "/api/v1/squads",
        json={"name": NAME_NFD, "home_ward": "kim_lien", "leader_id": leader_id},
        headers=organizer_headers,
    )
    assert first.status_code == 201, first.json
    assert first.json["name"] == NAME_NFC  # stored and answered in NFC
    again = client.post(
        "/api/v1/squads",
        json={"name": f" {NAME_NFC} ", "home_ward": "kim_lien", "leader_id": leader_id},
        headers=organizer_headers,
    )
    assert again.status_code == 409 and again.json["error"] == "duplicate"  # as for exact twins
    assert db.session.scalars(sa.select(Squad.name)).all() == [NAME_NFC]


def test_volunteers_are_found_by_either_spelling(client, make_volunteer, organizer_headers):
    volunteer_id, _ = make_volunteer(full_name=NAME_NFD)
    assert db.session.get(Volunteer, volunteer_id).full_name == NAME_NFC
    for query in (NAME_NFC, NAME_NFD):
        found = client.get(
            "/api/v1/volunteers", query_string={"q": query}, headers=organizer_headers
        )
        assert found.status_code == 200, found.json
        assert [v["id"] for v in found.json] == [volunteer_id]


@pytest.mark.parametrize(
    "field, value",
    [("full_name", "Lan\tAnh"), ("full_name", "Lan\r\nAnh"), ("phone", "0912 345 678\n")],
)
def test_a_single_line_field_refuses_control_characters(client, volunteer_payload, field, value):
    response = client.post("/api/v1/volunteers", json=volunteer_payload(**{field: value}))
    assert response.status_code == 422, response.json
    assert response.json["messages"][field]


def test_nul_is_a_clear_422_and_a_lone_surrogate_is_replaced(
    client, organizer_headers, session_payload, wards, competences
):
    refused = client.post(
        "/api/v1/sessions",
        json=session_payload(title="Buổi\x00học"),
        headers=organizer_headers,
    )
    assert refused.status_code == 422
    assert "NUL" in refused.json["messages"]["title"][0]
    # A JSON escape is the only way a lone surrogate arrives (half of a cut emoji).
    body = session_payload(title="Buổi học \ud83d", venue="Nhà văn hóa\r\nTổ 5")
    created = client.post(
        "/api/v1/sessions",
        data=json.dumps(body),  # ASCII escapes: "\ud83d" stays a lone half
        content_type="application/json",
        headers=organizer_headers,
    )
    assert created.status_code == 201, created.json
    row = db.session.get(TrainingSession, created.json["id"])
    assert (row.title, row.venue) == ("Buổi học \ufffd", "Nhà văn hóa\nTổ 5")
