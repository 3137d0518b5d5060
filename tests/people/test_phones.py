"""Phone numbers are Vietnamese mobile numbers, checked by libphonenumber and stored in
E.164, in the API, the CSV-free pages and participants' contacts alike."""

from __future__ import annotations

import pytest

from coordinator.extensions import db
from coordinator.people.models import ParticipantPrivate, Volunteer
from coordinator.phones import PhoneRefused, e164_or_none, looks_like_phone, to_e164


@pytest.mark.parametrize(
    "typed", ["0912345678", "0912 345 678", "+84 912 345 678", "84912345678", "(091) 234-5678"]
)
def test_vietnamese_mobile_numbers_are_stored_in_e164(typed):
    assert to_e164(typed) == "+84912345678"


@pytest.mark.parametrize("typed", ["call me", "123", "024 3825 1234", "+1 650 253 0000", ""])
def test_landlines_foreign_and_garbage_are_refused(typed):
    with pytest.raises(PhoneRefused):
        to_e164(typed)


def test_a_contact_is_a_phone_only_without_letters_or_at_sign():
    assert looks_like_phone("0987 000 111")
    assert not looks_like_phone("me@example.vn")
    assert not looks_like_phone("phụ huynh 0987 000 111")
    assert e164_or_none("0987 000 111") == "+84987000111"
    assert e164_or_none("me@example.vn") is None


def test_the_api_stores_a_volunteers_phone_in_e164_and_explains_a_refusal(
    client, wards, volunteer_payload
):
    created = client.post(
        "/api/v1/volunteers",
        json={**volunteer_payload(phone="0912 345 678"), "password": "mot-mat-khau-dai"},
    )
    assert created.status_code == 201, created.json
    assert created.json["phone"] == "+84912345678"
    assert db.session.get(Volunteer, created.json["id"]).phone == "+84912345678"

    refused = client.post(
        "/api/v1/volunteers",
        json={**volunteer_payload(phone="024 3825 1234"), "password": "mot-mat-khau-dai"},
    )
    assert refused.status_code == 422
    [message] = refused.json["messages"]["phone"]
    assert "số di động Việt Nam" in message and "Vietnamese" not in message  # one language


def test_participant_contacts_that_are_phone_numbers_are_stored_in_e164(
    client, wards, organizer_headers
):
    payload = {
        "full_name": "Trần Văn Bình",
        "ward": "kim_lien",
        "target_group": "residents",
        "contact": "binh@example.vn",
        "guardian_contact": "0987 000 111",
    }
    created = client.post("/api/v1/participants", json=payload, headers=organizer_headers)
    assert created.status_code == 201, created.json
    private = db.session.get(ParticipantPrivate, created.json["id"])
    assert (private.contact, private.guardian_contact) == ("binh@example.vn", "+84987000111")

    refused = client.post(
        "/api/v1/participants",
        json={**payload, "guardian_contact": "0987"},
        headers=organizer_headers,
    )
    assert refused.status_code == 422 and "guardian_contact" in refused.json["messages"]
