"""The page forms apply the API's text rule (`coordinator.text.clean_text`): names and
phone numbers on one line (a tab or a line break is refused next to the field, the input
kept), NFC, the API's phone pattern."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from tests.page_helpers import log_in, submit, text

NAME = "Nguyễn Thị Hường"
NAME_NFD = unicodedata.normalize("NFD", NAME)


@pytest.fixture
def volunteer_page(client, make_volunteer):
    volunteer_id, _ = make_volunteer()
    log_in(client, db.session.get(Volunteer, volunteer_id).email)
    return volunteer_id


def _profile(**overrides) -> dict:
    return {"full_name": NAME, "home_ward": "kim_lien", "max_sessions_per_week": "2", **overrides}


def test_registration_stores_a_decomposed_name_in_nfc(client, wards):
    response = submit(
        client,
        "/register",
        {
            "full_name": f"  {NAME_NFD} ",
            "email": "huong@example.vn",
            "password": "mat-khau-dai-1",
            "home_ward": "kim_lien",
            "consent": "y",
        },
    )
    assert response.status_code == 302, text(response)
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.email == "huong@example.vn"))
    assert volunteer.full_name == NAME


@pytest.mark.parametrize(
    "field, value",
    [
        ("full_name", "Nguyễn Thị\r\nHường"),
        ("full_name", "Nguyễn\tThị Hường"),
        ("phone", "0912\t345 678"),
        ("phone", "0912 345 678\r\n"),
        ("phone", "gọi tôi nhé"),  # not a phone number, as the API says
    ],
)
def test_the_profile_refuses_what_the_api_refuses(
    client, volunteer_page, volunteer_payload, field, value
):
    before = db.session.get(Volunteer, volunteer_page).full_name
    db.session.rollback()
    response = submit(client, "/me/profile", _profile(**{field: value}))
    assert response.status_code == 422
    assert 'aria-invalid="true"' in text(response)
    db.session.rollback()
    assert db.session.get(Volunteer, volunteer_page).full_name == before
    # The API says no to the same value.
    api = client.post("/api/v1/volunteers", json=volunteer_payload(**{field: value}))
    assert api.status_code == 422 and api.json["messages"][field]


def test_the_profile_stores_clean_text(client, volunteer_page):
    response = submit(client, "/me/profile", _profile(full_name=NAME_NFD, phone=" 0912 345 678 "))
    assert response.status_code == 302, text(response)
    db.session.rollback()
    volunteer = db.session.get(Volunteer, volunteer_page)
    assert (volunteer.full_name, volunteer.phone) == (NAME, "+84912345678")  # E.164


def test_the_message_is_in_the_pages_language(client, volunteer_page):
    response = submit(client, "/me/profile", _profile(full_name="Lan\tAnh"))
    assert "Ở đây không được có xuống dòng, tab hay ký tự điều khiển khác." in text(response)
