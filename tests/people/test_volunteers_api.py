"""/api/v1/volunteers: sign-up, registration by organizers, profiles, the organizers' list."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import AvailabilityWindow, User, Volunteer
from tests.api_helpers import assert_error
from tests.conftest import PASSWORD

VOLUNTEERS = "/api/v1/volunteers"


def row_counts() -> dict[str, int]:
    """Rows of every table a volunteer request may write."""
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (User, Volunteer, AvailabilityWindow, DomainEvent)
    }


def events(event_type: str, volunteer_id: int) -> list[DomainEvent]:
    return db.session.scalars(
        sa.select(DomainEvent).where(
            DomainEvent.type == event_type,
            DomainEvent.aggregate_type == "volunteer",
            DomainEvent.aggregate_id == volunteer_id,
        )
    ).all()


@pytest.fixture
def register(client, wards, organizer_headers, volunteer_payload):
    """Register a volunteer as an organizer: register(**overrides) -> response JSON."""

    def create(**overrides) -> dict:
        response = client.post(
            VOLUNTEERS, json=volunteer_payload(**overrides), headers=organizer_headers
        )
        assert response.status_code == 201, response.json
        return response.json

    return create


@pytest.fixture
def sign_up(client, wards, volunteer_payload, auth_headers):
    """Self sign-up: sign_up(**overrides) -> (profile JSON, bearer headers)."""

    def create(**overrides) -> tuple[dict, dict]:
        response = client.post(VOLUNTEERS, json=volunteer_payload(password=PASSWORD, **overrides))
        assert response.status_code == 201, response.json
        user = db.session.get(User, response.json["user_id"])
        return response.json, auth_headers(user)

    return create


# Creating


def test_anonymous_sign_up_with_password_creates_volunteer_and_login(
    client, wards, volunteer_payload
):
    payload = volunteer_payload(email="Mai.Anh@Example.VN", password=PASSWORD)

    response = client.post(VOLUNTEERS, json=payload)

    assert response.status_code == 201
    body = response.json
    assert body["id"] > 0 and body["email"] == "mai.anh@example.vn"
    assert body["availability"] == [{"weekday": 1, "start": "18:00", "end": "20:00"}]
    assert "password" not in body
    user = db.session.get(User, body["user_id"])
    assert (user.email, user.role) == ("mai.anh@example.vn", "volunteer")
    assert len(events("volunteer.created", body["id"])) == 1


def test_signed_up_volunteer_can_log_in_and_read_own_profile(client, wards, volunteer_payload):
    payload = volunteer_payload(password=PASSWORD)
    volunteer = client.post(VOLUNTEERS, json=payload).json

    token = client.post(
        "/api/v1/auth/tokens", json={"email": payload["email"], "password": PASSWORD}
    )

    assert token.status_code == 201
    headers = {"Authorization": f"Bearer {token.json['token']}"}
    assert client.get(f"{VOLUNTEERS}/{volunteer['id']}", headers=headers).json == volunteer


def test_anonymous_sign_up_without_password_is_422_and_writes_nothing(
    client, wards, volunteer_payload
):
    before = row_counts()

    response = client.post(VOLUNTEERS, json=volunteer_payload())

    assert_error(response, 422, "password")
    assert row_counts() == before


def test_a_boolean_must_be_true_or_false(client, wards, volunteer_payload):
    """Found by the fuzz test: is_expert 0 was taken as false (the document says boolean)."""
    response = client.post(
        VOLUNTEERS, json={**volunteer_payload(is_expert=0), "password": PASSWORD}
    )

    assert_error(response, 422, "is_expert")


@pytest.mark.parametrize("password", ["", "short", None, 1234567890])
def test_anonymous_sign_up_with_unusable_password_is_422(
    client, wards, volunteer_payload, password
):
    before = row_counts()

    response = client.post(VOLUNTEERS, json=volunteer_payload(password=password))

    assert_error(response, 422, "password")
    assert row_counts() == before


def test_organizer_registers_a_volunteer_without_password_and_no_login(
    client, wards, organizer_headers, volunteer_payload
):
    logins = row_counts()["users"]

    response = client.post(VOLUNTEERS, json=volunteer_payload(), headers=organizer_headers)

    assert response.status_code == 201
    assert response.json["user_id"] is None
    assert row_counts()["users"] == logins


def test_volunteer_token_cannot_create_another_volunteer(client, sign_up, volunteer_payload):
    _, headers = sign_up()
    before = row_counts()

    response = client.post(VOLUNTEERS, json=volunteer_payload(), headers=headers)

    assert_error(response, 403)
    assert row_counts() == before


@pytest.mark.parametrize("with_password", [False, True])
def test_duplicate_email_differing_in_case_is_409_with_email_message(
    client, register, volunteer_payload, organizer_headers, with_password
):
    register(email="lan.nguyen@example.vn")
    payload = volunteer_payload(email="LAN.Nguyen@EXAMPLE.vn")
    headers = {} if with_password else organizer_headers
    if with_password:
        payload["password"] = PASSWORD
    before = row_counts()

    response = client.post(VOLUNTEERS, json=payload, headers=headers)

    assert_error(response, 409, "email")
    assert row_counts() == before


def test_email_taken_by_a_concurrent_request_is_409_not_500(
    client, register, volunteer_payload, organizer_headers, monkeypatch
):
    from coordinator.people import operations

    taken = register()["email"]
    # The other request committed after this one's check: only the unique index sees it.
    monkeypatch.setattr(operations, "_email_taken", lambda *args, **kwargs: False)
    before = row_counts()

    response = client.post(
        VOLUNTEERS, json=volunteer_payload(email=taken), headers=organizer_headers
    )

    assert_error(response, 409, "email")
    assert row_counts() == before


def test_sign_up_with_the_email_of_an_existing_login_is_409(
    client, wards, make_user, volunteer_payload
):
    make_user("organizer", email="to.chuc@example.vn")
    before = row_counts()

    response = client.post(
        VOLUNTEERS, json=volunteer_payload(email="To.Chuc@example.vn", password=PASSWORD)
    )

    assert_error(response, 409, "email")
    assert row_counts() == before


def test_unknown_home_ward_is_422_with_home_ward_message(
    client, wards, organizer_headers, volunteer_payload
):
    before = row_counts()

    response = client.post(
        VOLUNTEERS, json=volunteer_payload(home_ward="atlantis"), headers=organizer_headers
    )

    assert_error(response, 422, "home_ward")
    assert row_counts() == before


def test_unknown_accessibility_skill_code_is_422(
    client, wards, organizer_headers, volunteer_payload
):
    before = row_counts()
    payload = volunteer_payload(accessibility_skills=["sign_language", "telepathy"])

    response = client.post(VOLUNTEERS, json=payload, headers=organizer_headers)

    body = assert_error(response, 422, "accessibility_skills")
    assert "telepathy" in body["messages"]["accessibility_skills"][0]
    assert row_counts() == before


def test_known_and_admin_added_accessibility_skills_are_accepted(
    client, wards, organizer_headers, volunteer_payload
):
    from coordinator.vocabularies.models import VocabularyTerm

    db.session.add(
        VocabularyTerm(vocabulary="accessibility_skills", code="braille", label="Chữ nổi")
    )
    db.session.commit()
    payload = volunteer_payload(accessibility_skills=["sign_language", "braille"])

    response = client.post(VOLUNTEERS, json=payload, headers=organizer_headers)

    assert response.status_code == 201
    assert response.json["accessibility_skills"] == ["sign_language", "braille"]


@pytest.mark.parametrize(("start", "end"), [("20:00", "18:00"), ("18:00", "18:00")])
def test_availability_ending_before_it_starts_is_422_with_field_message(
    client, wards, organizer_headers, volunteer_payload, start, end
):
    before = row_counts()
    payload = volunteer_payload(availability=[{"weekday": 2, "start": start, "end": end}])

    response = client.post(VOLUNTEERS, json=payload, headers=organizer_headers)

    body = assert_error(response, 422, "availability")
    assert body["messages"]["availability"]["0"]["end"]
    assert row_counts() == before


@pytest.mark.parametrize("bad", ["25:00", "7:00", "18:60", "1800", "18h00", "", 1080, None])
def test_bad_clock_time_is_422(client, wards, organizer_headers, volunteer_payload, bad):
    before = row_counts()
    payload = volunteer_payload(availability=[{"weekday": 2, "start": bad, "end": "20:00"}])

    response = client.post(VOLUNTEERS, json=payload, headers=organizer_headers)

    body = assert_error(response, 422, "availability")
    assert body["messages"]["availability"]["0"]["start"]
    assert row_counts() == before


def test_window_may_end_at_midnight(client, register):
    volunteer = register(availability=[{"weekday": 6, "start": "22:00", "end": "24:00"}])

    assert volunteer["availability"] == [{"weekday": 6, "start": "22:00", "end": "24:00"}]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"max_sessions_per_week": "two"}, "max_sessions_per_week"),
        ({"max_sessions_per_week": 2.5}, "max_sessions_per_week"),
        ({"max_sessions_per_week": True}, "max_sessions_per_week"),
        ({"max_sessions_per_week": None}, "max_sessions_per_week"),
        ({"max_sessions_per_week": -1}, "max_sessions_per_week"),
        ({"max_sessions_per_week": 10**30}, "max_sessions_per_week"),
        ({"availability": [{"weekday": 1.5, "start": "10:00", "end": "12:00"}]}, "availability"),
        ({"availability": [{"weekday": 7, "start": "10:00", "end": "12:00"}]}, "availability"),
        ({"availability": [{"weekday": 1, "start": "10:00"}]}, "availability"),
        ({"availability": {"weekday": 1}}, "availability"),
        ({"full_name": 42}, "full_name"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "Lan\u0000"}, "full_name"),
        ({"email": "lan@"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"home_ward": 7}, "home_ward"),
        ({"home_ward": "kim\u0000lien"}, "home_ward"),
        ({"skills": "smartphone_basics"}, "skills"),
        ({"skills": ["Smartphone Basics"]}, "skills"),
        ({"skills": ["cyber_safety", "cyber_safety"]}, "skills"),
        ({"languages": ["vietnamese!"]}, "languages"),
        ({"is_expert": "maybe"}, "is_expert"),
        ({"locale": "fr"}, "locale"),
        ({"preferences": {"wards": ["atlantis"]}}, "preferences"),
        ({"preferences": {"topics": ["ai\u0000"]}}, "preferences"),
        ({"preferences": {"colour": "blue"}}, "preferences"),
        ({"user_id": 1}, "user_id"),
        ({"nickname": "Lan"}, "nickname"),
    ],
)
def test_wrong_types_and_unknown_fields_are_422_and_write_nothing(
    client, wards, organizer_headers, volunteer_payload, overrides, field
):
    before = row_counts()

    response = client.post(
        VOLUNTEERS, json=volunteer_payload(**overrides), headers=organizer_headers
    )

    assert_error(response, 422, field)
    assert row_counts() == before


@pytest.mark.parametrize("body", [[], "volunteer", 42])
def test_body_that_is_not_an_object_is_422(client, wards, organizer_headers, body):
    before = row_counts()

    assert_error(client.post(VOLUNTEERS, json=body, headers=organizer_headers), 422)
    assert row_counts() == before


def test_malformed_json_is_400_and_writes_nothing(client, wards, organizer_headers):
    before = row_counts()

    response = client.post(
        VOLUNTEERS,
        data='{"full_name": "Lan", "email": ',
        content_type="application/json",
        headers=organizer_headers,
    )

    assert_error(response, 400)
    assert row_counts() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_415_and_writes_nothing(
    client, wards, organizer_headers, volunteer_payload, content_type
):
    import json

    before = row_counts()

    response = client.post(
        VOLUNTEERS,
        data=json.dumps(volunteer_payload()),
        content_type=content_type,
        headers=organizer_headers,
    )

    assert_error(response, 415, "content_type")
    assert row_counts() == before


# Reading and updating


def test_volunteer_reads_own_profile(client, sign_up):
    volunteer, headers = sign_up(full_name="Trần Văn Bình")

    response = client.get(f"{VOLUNTEERS}/{volunteer['id']}", headers=headers)

    assert response.status_code == 200
    assert response.json["full_name"] == "Trần Văn Bình"


def test_another_volunteers_profile_is_404_like_a_missing_one(client, sign_up, register):
    _, headers = sign_up()
    other = register()

    foreign = client.get(f"{VOLUNTEERS}/{other['id']}", headers=headers)
    missing = client.get(f"{VOLUNTEERS}/{other['id'] + 1000}", headers=headers)

    assert_error(foreign, 404)
    assert foreign.json == missing.json
    assert other["email"] not in foreign.get_data(as_text=True)


def test_organizer_reads_any_profile(client, register, organizer_headers):
    volunteer = register()

    response = client.get(f"{VOLUNTEERS}/{volunteer['id']}", headers=organizer_headers)

    assert response.status_code == 200
    assert response.json == volunteer


def test_anonymous_profile_read_is_401(client, register):
    volunteer = register()

    assert_error(client.get(f"{VOLUNTEERS}/{volunteer['id']}"), 401)


@pytest.mark.parametrize("volunteer_id", [0, 2**31, 10**30])
def test_out_of_range_volunteer_id_is_404(client, wards, organizer_headers, volunteer_id):
    response = client.get(f"{VOLUNTEERS}/{volunteer_id}", headers=organizer_headers)

    assert_error(response, 404)


def test_volunteer_updates_own_profile(client, sign_up):
    volunteer, headers = sign_up()

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}",
        json={"phone": "+84 912 345 678", "max_sessions_per_week": 3},
        headers=headers,
    )

    assert response.status_code == 200
    assert response.json["phone"] == "+84912345678"  # stored in E.164
    assert response.json["max_sessions_per_week"] == 3
    assert response.json["version"] == volunteer["version"] + 1
    assert response.json["availability"] == volunteer["availability"]
    assert db.session.get(Volunteer, volunteer["id"]).max_sessions_per_week == 3


def test_volunteer_cannot_update_another_volunteer(client, sign_up, register):
    _, headers = sign_up()
    other = register(max_sessions_per_week=2)
    before = row_counts()

    response = client.patch(
        f"{VOLUNTEERS}/{other['id']}", json={"max_sessions_per_week": 9}, headers=headers
    )

    assert_error(response, 404)
    assert db.session.get(Volunteer, other["id"]).max_sessions_per_week == 2
    assert row_counts() == before


def test_organizer_updates_any_profile(client, register, organizer_headers):
    volunteer = register()

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}",
        json={"home_ward": "cat_linh", "is_expert": True},
        headers=organizer_headers,
    )

    assert response.status_code == 200
    assert (response.json["home_ward"], response.json["is_expert"]) == ("cat_linh", True)


def test_anonymous_update_is_401(client, register):
    volunteer = register()

    response = client.patch(f"{VOLUNTEERS}/{volunteer['id']}", json={"phone": "0912345678"})

    assert_error(response, 401)


def test_patch_availability_replaces_windows_and_writes_event(client, sign_up):
    volunteer, headers = sign_up(
        availability=[
            {"weekday": 1, "start": "18:00", "end": "20:00"},
            {"weekday": 3, "start": "08:00", "end": "11:30"},
        ]
    )
    new_windows = [
        {"weekday": 5, "start": "14:00", "end": "17:00"},
        {"weekday": 0, "start": "07:00", "end": "09:00"},
    ]

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}", json={"availability": new_windows}, headers=headers
    )

    assert response.status_code == 200
    assert response.json["availability"] == sorted(new_windows, key=lambda w: w["weekday"])
    stored = db.session.scalars(
        sa.select(AvailabilityWindow).where(AvailabilityWindow.volunteer_id == volunteer["id"])
    ).all()
    assert sorted((w.weekday, w.start_minute, w.end_minute) for w in stored) == [
        (0, 420, 540),
        (5, 840, 1020),
    ]
    (event,) = events("volunteer.availability_changed", volunteer["id"])
    assert event.payload == {"volunteer_id": volunteer["id"], "fields": ["availability"]}
    assert event.actor_id == volunteer["user_id"]


def test_patch_with_empty_availability_clears_windows(client, sign_up):
    volunteer, headers = sign_up()

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}", json={"availability": []}, headers=headers
    )

    assert response.json["availability"] == []
    assert row_counts()["availability_windows"] == 0


def test_patch_without_availability_keeps_windows_and_writes_no_availability_event(client, sign_up):
    volunteer, headers = sign_up()

    client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}", json={"skills": ["cyber_safety"]}, headers=headers
    )

    assert events("volunteer.availability_changed", volunteer["id"]) == []
    assert len(events("volunteer.changed", volunteer["id"])) == 1
    assert row_counts()["availability_windows"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"availability": [{"weekday": 1, "start": "10:00"}]},
        {"availability": [{"weekday": 1, "start": "12:00", "end": "10:00"}]},
        {"max_sessions_per_week": "two"},
        {"full_name": None},
        {"home_ward": "atlantis"},
        {"accessibility_skills": ["telepathy"]},
        {"password": "a-new-password-123"},
        {"version": 7},
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(client, sign_up, changes):
    volunteer, headers = sign_up()
    before = row_counts()

    response = client.patch(f"{VOLUNTEERS}/{volunteer['id']}", json=changes, headers=headers)

    assert_error(response, 422, next(iter(changes)))
    assert row_counts() == before
    assert client.get(f"{VOLUNTEERS}/{volunteer['id']}", headers=headers).json == volunteer


def test_patch_to_another_volunteers_email_is_409(client, sign_up, register):
    volunteer, headers = sign_up()
    other = register()

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}", json={"email": other["email"].upper()}, headers=headers
    )

    assert_error(response, 409, "email")


def test_patched_email_becomes_the_login_email(client, sign_up):
    volunteer, headers = sign_up()

    client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}", json={"email": "New.Address@example.vn"}, headers=headers
    )

    new_login = client.post(
        "/api/v1/auth/tokens", json={"email": "new.address@example.vn", "password": PASSWORD}
    )
    old_login = client.post(
        "/api/v1/auth/tokens", json={"email": volunteer["email"], "password": PASSWORD}
    )
    assert (new_login.status_code, old_login.status_code) == (201, 401)


def test_malformed_json_patch_is_400(client, sign_up):
    volunteer, headers = sign_up()

    response = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}",
        data="{not json",
        content_type="application/json",
        headers=headers,
    )

    assert_error(response, 400)


# Listing


def test_list_is_for_organizers_only(client, sign_up):
    _, headers = sign_up()

    assert_error(client.get(VOLUNTEERS, headers=headers), 403)
    assert_error(client.get(VOLUNTEERS), 401)


def test_list_returns_everyone_with_total_count(client, register, organizer_headers):
    ids = [register()["id"] for _ in range(3)]

    response = client.get(VOLUNTEERS, headers=organizer_headers)

    assert response.status_code == 200
    assert [v["id"] for v in response.json] == ids
    assert response.headers["X-Total-Count"] == "3"


def test_list_filters_by_ward(client, register, organizer_headers):
    in_cat_linh = register(home_ward="cat_linh")
    register(home_ward="kim_lien")

    response = client.get(f"{VOLUNTEERS}?ward=cat_linh", headers=organizer_headers)

    assert [v["id"] for v in response.json] == [in_cat_linh["id"]]
    assert response.headers["X-Total-Count"] == "1"


def test_list_filters_by_skill(client, register, organizer_headers):
    register(skills=["smartphone_basics"])
    safety = register(skills=["cyber_safety", "smartphone_basics"])

    response = client.get(f"{VOLUNTEERS}?skill=cyber_safety", headers=organizer_headers)

    assert [v["id"] for v in response.json] == [safety["id"]]
    assert response.headers["X-Total-Count"] == "1"
    # A whole code, not a part of one; an accessibility skill in its own list.
    assert client.get(f"{VOLUNTEERS}?skill=cyber", headers=organizer_headers).json == []
    signer = register(accessibility_skills=["sign_language"], skills=["cyber_safety"])
    both = client.get(
        VOLUNTEERS,
        query_string={"skill": "cyber_safety", "accessibility_skill": "sign_language"},
        headers=organizer_headers,
    )
    assert [v["id"] for v in both.json] == [signer["id"]]
    assert both.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("q", ["đức", "ĐỨC", "Nguyễn Đức", "hoa.le@"])
def test_list_q_matches_name_or_email_ignoring_case(client, register, organizer_headers, q):
    duc = register(full_name="Nguyễn Đức Hùng", email="hung@example.vn")
    hoa = register(full_name="Lê Thị Hoa", email="hoa.le@example.vn")
    expected = hoa if "@" in q else duc

    response = client.get(VOLUNTEERS, query_string={"q": q}, headers=organizer_headers)

    assert [v["id"] for v in response.json] == [expected["id"]]


def test_list_q_treats_percent_and_underscore_literally(client, register, organizer_headers):
    register(full_name="Phạm Minh Tuấn")

    for q in ("%", "_"):
        response = client.get(VOLUNTEERS, query_string={"q": q}, headers=organizer_headers)
        assert response.json == [] and response.headers["X-Total-Count"] == "0"


def test_list_combines_filters_and_pages_with_total(client, register, organizer_headers):
    matching = [register(home_ward="hang_bot", skills=["cyber_safety"])["id"] for _ in range(3)]
    register(home_ward="hang_bot", skills=["smartphone_basics"])
    register(home_ward="kim_lien", skills=["cyber_safety"])

    response = client.get(
        VOLUNTEERS,
        query_string={"ward": "hang_bot", "skill": "cyber_safety", "limit": 2, "offset": 1},
        headers=organizer_headers,
    )

    assert [v["id"] for v in response.json] == matching[1:]
    assert response.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"is_expert": "perhaps"}, "is_expert"),
        ({"ward": "Kim Liên"}, "ward"),
        ({"ward": "kim\u0000"}, "ward"),
        ({"q": "an\u0000"}, "q"),
    ],
)
def test_list_with_bad_filter_is_422(client, wards, organizer_headers, query, field):
    response = client.get(VOLUNTEERS, query_string=query, headers=organizer_headers)

    assert_error(response, 422, field)


def test_volunteers_cannot_make_themselves_experts(client, volunteer_payload, auth_headers, wards):
    claim = client.post(
        VOLUNTEERS, json={**volunteer_payload(is_expert=True), "password": PASSWORD}
    )
    assert_error(claim, 403)
    assert claim.json["messages"]["is_expert"]

    created = client.post(VOLUNTEERS, json={**volunteer_payload(), "password": PASSWORD}).json
    user = db.session.get(User, created["user_id"])
    response = client.patch(
        f"{VOLUNTEERS}/{created['id']}", json={"is_expert": True}, headers=auth_headers(user)
    )
    assert_error(response, 403)
    assert db.session.get(Volunteer, created["id"]).is_expert is False


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nguyen van", ["Nguyễn Văn An", "Nguyễn Văn Đức"]),
        ("NGUYỄN VĂN", ["Nguyễn Văn An", "Nguyễn Văn Đức"]),
        ("duc", ["Nguyễn Văn Đức", "Đặng Thị Dục"]),
        ("Đặng", ["Đặng Thị Dục"]),
        ("dang thi", ["Đặng Thị Dục"]),
        ("van duc", ["Nguyễn Văn Đức"]),
        ("binh an", []),
    ],
)
def test_list_q_ignores_vietnamese_marks_and_d_stroke(
    client, register, organizer_headers, q, expected
):
    """A search typed without marks (or with other ones) finds the name: đ/Đ is d."""
    names = {}
    for name in ("Nguyễn Văn An", "Nguyễn Văn Đức", "Đặng Thị Dục", "Trần Thị Bình"):
        names[register(full_name=name)["id"]] = name

    response = client.get(VOLUNTEERS, query_string={"q": q}, headers=organizer_headers)

    assert [names[v["id"]] for v in response.json] == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


def test_list_q_follows_a_renamed_volunteer(client, register, organizer_headers):
    """The model keeps the search column with the name: a rename is found at once."""
    volunteer = register(full_name="Lê Văn Tám")
    renamed = client.patch(
        f"{VOLUNTEERS}/{volunteer['id']}",
        json={"full_name": "Phạm Đình Hòa"},
        headers=organizer_headers,
    )
    assert renamed.status_code == 200, renamed.json

    def found(q: str) -> list[int]:
        response = client.get(VOLUNTEERS, query_string={"q": q}, headers=organizer_headers)
        return [v["id"] for v in response.json]

    assert found("dinh hoa") == [volunteer["id"]]
    assert found("tam") == []


def test_search_key_folds_marks_case_and_d_stroke():
    from coordinator.text import search_key

    assert search_key("Nguyễn Văn Đức") == "nguyen van duc"
    assert search_key("ĐẶNG thị ĐÀO") == "dang thi dao"
    # Decomposed input (some keyboards) folds the same.
    assert search_key("Nguye\u0302\u0303n") == "nguyen"
