"""/api/v1/sessions: publish, repeat, list, read, change, cancel, and the events written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.sessions.models import SessionRole, SessionSeries, TrainingSession

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
URL = "/api/v1/sessions"
ORGANIZER_ONLY_FIELDS = {"organizer_id", "registered_count", "sequence", "created_at"}
# What a session event may carry: ids and codes, never people or free text.
# A cancellation also names, by id only, the bookings and registrations it ended.
EVENT_PAYLOAD_KEYS = {
    "session_id",
    "ward",
    "series_id",
    "fields",
    "previous_ward",
    "assignment_ids",
    "registration_ids",
    "with_session_id",
}


@pytest.fixture
def ready(wards, competences):
    """Wards and the competence framework that sessions refer to."""


@pytest.fixture
def create(client, ready, organizer_headers, session_payload):
    """POST a session as an organizer and return the 201 body."""

    def make(**overrides) -> dict:
        response = client.post(URL, json=session_payload(**overrides), headers=organizer_headers)
        assert response.status_code == 201, response.json
        return response.json

    return make


def local_in(days: int, hour: int = 18) -> datetime:
    """A wall-clock time in Hanoi `days` from now, at `hour`:00 (naive)."""
    today = utcnow().astimezone(HANOI).date()
    return datetime.combine(today + timedelta(days=days), datetime.min.time()).replace(hour=hour)


def events(event_type: str, session_id: int | None = None) -> list[DomainEvent]:
    query = sa.select(DomainEvent).where(DomainEvent.type == event_type)
    if session_id is not None:
        query = query.where(DomainEvent.aggregate_id == session_id)
    return list(db.session.scalars(query.order_by(DomainEvent.id)))


def role_row(session_id: int, name: str) -> SessionRole:
    return db.session.scalars(
        sa.select(SessionRole)
        .where(SessionRole.session_id == session_id, SessionRole.role == name)
        .execution_options(populate_existing=True)
    ).one()


def roles_by_name(body: dict) -> dict[str, dict]:
    return {role["role"]: role for role in body["roles"]}


def session_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TrainingSession))


def assert_contract_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) <= {"error", "message", "messages"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- create -------------------------------------------------------------------------


def test_organizer_publishes_a_session(client, ready, organizer_headers, session_payload):
    payload = session_payload()
    response = client.post(URL, json=payload, headers=organizer_headers)

    assert response.status_code == 201
    body = response.json
    assert isinstance(body["id"], int)
    assert body["status"] == "published"
    assert body["version"] == 1
    assert body["sequence"] == 0
    assert body["series_id"] is None
    assert "series_session_ids" not in body
    assert body["roles"] == [
        {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"], "confirmed": 0},
        {"role": "helper", "count": 2, "required_skills": [], "confirmed": 0},
    ]
    for field in ("title", "ward", "venue", "target_group", "capacity", "venue_accessibility"):
        assert body[field] == payload[field]
    assert body["seats_left"] == payload["capacity"]
    stored = db.session.get(TrainingSession, body["id"])
    assert stored is not None and stored.status == "published"


def test_times_are_returned_in_hanoi_time(create, session_payload):
    payload = session_payload()
    body = create(**payload)

    starts = datetime.fromisoformat(body["starts_at"])
    assert body["starts_at"].endswith("+07:00")
    assert body["ends_at"].endswith("+07:00")
    assert starts.utcoffset() == timedelta(hours=7)
    # The same instant as the UTC input.
    assert starts == datetime.fromisoformat(payload["starts_at"])


def test_time_without_offset_is_taken_as_hanoi_local_time(create):
    starts = local_in(days=9, hour=18)
    body = create(starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat())

    assert body["starts_at"] == f"{starts.isoformat()}+07:00"
    assert body["ends_at"] == f"{(starts + timedelta(hours=2)).isoformat()}+07:00"
    stored = db.session.get(TrainingSession, body["id"])
    assert stored.starts_at == starts.replace(tzinfo=HANOI)
    assert stored.starts_at.astimezone(ZoneInfo("UTC")).hour == 11


def test_weekly_repeat_creates_a_series_at_the_same_local_time(client, create):
    starts = local_in(days=3, hour=19)
    body = create(
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=2)).isoformat(),
        repeat={"weekly": 4},
    )

    ids = body["series_session_ids"]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert ids[0] == body["id"]
    assert body["series_id"] is not None
    series = db.session.get(SessionSeries, body["series_id"])
    assert series.weekly_count == 4
    sessions = [client.get(f"{URL}/{i}").json for i in ids]
    for week, session in enumerate(sessions):
        assert session["series_id"] == body["series_id"]
        expected = starts + timedelta(weeks=week)
        assert session["starts_at"] == f"{expected.isoformat()}+07:00"
        assert session["ends_at"] == f"{(expected + timedelta(hours=2)).isoformat()}+07:00"
        assert {r["role"] for r in session["roles"]} == {"lead", "helper"}
    published = events("session.published")
    assert sorted(e.aggregate_id for e in published) == sorted(ids)
    assert {e.payload["series_id"] for e in published} == {body["series_id"]}


def test_weekly_repeat_of_one_is_a_single_session(create):
    body = create(repeat={"weekly": 1})

    assert body["series_id"] is None
    assert "series_session_ids" not in body
    assert session_count() == 1


def test_volunteer_may_not_publish(client, ready, make_user, auth_headers, session_payload):
    headers = auth_headers(make_user("volunteer"))

    response = client.post(URL, json=session_payload(), headers=headers)

    assert_contract_error(response, 403, "forbidden")
    assert session_count() == 0


def test_admin_counts_as_organizer(client, ready, make_user, auth_headers, session_payload):
    headers = auth_headers(make_user("admin"))

    response = client.post(URL, json=session_payload(), headers=headers)

    assert response.status_code == 201


def test_anonymous_may_not_publish(client, ready, session_payload):
    response = client.post(URL, json=session_payload())

    assert_contract_error(response, 401, "unauthorized")
    assert session_count() == 0


def test_anonymous_after_an_organizer_request_is_still_anonymous(client, create, session_payload):
    """The caller is a property of the request: an earlier login must not carry over."""
    create()

    response = client.post(URL, json=session_payload())

    assert_contract_error(response, 401, "unauthorized")
    assert session_count() == 1


def test_anonymous_is_refused_before_the_body_is_read(client, ready):
    response = client.post(URL, json={"title": ""})

    assert_contract_error(response, 401, "unauthorized")


def test_invalid_token_is_refused(client, ready, session_payload):
    response = client.post(
        URL, json=session_payload(), headers={"Authorization": "Bearer not-a-token"}
    )

    assert_contract_error(response, 401, "unauthorized")
    assert session_count() == 0


# --- list ---------------------------------------------------------------------------


@pytest.fixture
def three_sessions(client, create, organizer_headers):
    """A: kim_lien residents in 3 days; B: cat_linh students in 10; C: kim_lien students
    in 17 days, cancelled."""
    a = create(
        ward="kim_lien",
        target_group="residents",
        starts_at=local_in(3).isoformat(),
        ends_at=local_in(3, hour=20).isoformat(),
    )
    b = create(
        ward="cat_linh",
        target_group="students",
        starts_at=local_in(10).isoformat(),
        ends_at=local_in(10, hour=20).isoformat(),
    )
    c = create(
        ward="kim_lien",
        target_group="students",
        starts_at=local_in(17).isoformat(),
        ends_at=local_in(17, hour=20).isoformat(),
    )
    response = client.post(
        f"{URL}/{c['id']}/cancel", json={"reason": "Hội trường sửa chữa"}, headers=organizer_headers
    )
    assert response.status_code == 200
    return a["id"], b["id"], c["id"]


def listed(client, headers=None, **query) -> tuple[list[int], int]:
    response = client.get(URL, query_string=query, headers=headers or {})
    assert response.status_code == 200, response.json
    return [s["id"] for s in response.json], int(response.headers["X-Total-Count"])


def test_list_all_in_start_order(client, three_sessions):
    a, b, c = three_sessions

    assert listed(client) == ([a, b, c], 3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"ward": "kim_lien"}, "ac"),
        ({"ward": "cat_linh"}, "b"),
        ({"ward": "hang_bot"}, ""),
        ({"target_group": "students"}, "bc"),
        ({"target_group": "residents"}, "a"),
        ({"status": "cancelled"}, "c"),
        ({"status": "published"}, "ab"),
        ({"ward": "kim_lien", "target_group": "students"}, "c"),
        ({"ward": "kim_lien", "status": "published"}, "a"),
    ],
)
def test_list_filters(client, three_sessions, query, expected):
    by_letter = dict(zip("abc", three_sessions, strict=True))

    ids, total = listed(client, **query)

    assert ids == [by_letter[letter] for letter in expected]
    assert total == len(expected)


def test_list_time_window_uses_from_and_to(client, three_sessions):
    a, b, c = three_sessions

    assert listed(client, **{"from": local_in(5).isoformat()}) == ([b, c], 2)
    assert listed(client, to=local_in(12).isoformat()) == ([a, b], 2)
    window = {"from": local_in(5).isoformat(), "to": local_in(12).isoformat()}
    assert listed(client, **window) == ([b], 1)


def test_list_window_bounds_are_local_time(client, three_sessions):
    """B runs 18:00-20:00 Hanoi time: a window ending at 18:00 local excludes it, one
    ending at 18:01 local (11:01 UTC) includes it."""
    _, b, _ = three_sessions
    start_of_b = local_in(10, hour=18)

    ids, _ = listed(client, **{"from": local_in(5).isoformat(), "to": start_of_b.isoformat()})
    assert ids == []
    later = (start_of_b + timedelta(minutes=1)).replace(tzinfo=HANOI).astimezone(ZoneInfo("UTC"))
    ids, _ = listed(client, **{"from": local_in(5).isoformat(), "to": later.isoformat()})
    assert ids == [b]


def test_list_limit_and_offset_keep_the_total(client, three_sessions):
    a, b, c = three_sessions

    assert listed(client, limit=2) == ([a, b], 3)
    assert listed(client, limit=2, offset=2) == ([c], 3)
    assert listed(client, limit=1, offset=1) == ([b], 3)
    assert listed(client, offset=5) == ([], 3)


def test_list_shows_public_fields_to_anonymous_and_more_to_organizers(
    client, three_sessions, organizer_headers
):
    anonymous = client.get(URL).json
    organizer = client.get(URL, headers=organizer_headers).json

    assert len(anonymous) == len(organizer) == 3
    for session in anonymous:
        assert not ORGANIZER_ONLY_FIELDS & set(session)
        assert {"id", "title", "ward", "starts_at", "seats_left", "status"} <= set(session)
    for session in organizer:
        assert ORGANIZER_ONLY_FIELDS <= set(session)


def test_the_public_list_is_the_public_schema_field_for_field(
    client, create, three_sessions, organizer_headers
):
    """The anonymous list is written without marshmallow (its CPU): it must say exactly
    what SessionPublicSchema says of the same sessions, whatever they hold."""
    from coordinator.sessions.schemas import SessionPublicSchema, dump_public_sessions

    series = create(
        repeat={"weekly": 2}, participant_needs=["sign_language"], languages=["vi", "en"]
    )
    full = db.session.get(TrainingSession, series["id"])
    full.registered_count = full.capacity  # no seats left
    db.session.commit()
    anonymous = client.get(URL, query_string={"limit": 500}).json
    db.session.rollback()
    rows = db.session.scalars(sa.select(TrainingSession).order_by(TrainingSession.id)).all()
    # An instant before 1906: Hanoi's local mean time, shown in UTC.
    rows[0].updated_at = datetime(1900, 1, 1, 12, tzinfo=ZoneInfo("UTC"))

    assert dump_public_sessions(rows) == SessionPublicSchema(many=True).dump(rows)
    db.session.rollback()
    rows = db.session.scalars(sa.select(TrainingSession)).all()
    by_id = {s["id"]: s for s in SessionPublicSchema(many=True).dump(rows)}
    assert len(anonymous) == 5 and anonymous == [by_id[s["id"]] for s in anonymous]
    assert any(s["status"] == "cancelled" and s["cancel_reason"] for s in anonymous)
    assert any(s["series_id"] for s in anonymous) and any(s["roles"] for s in anonymous)


# --- read ---------------------------------------------------------------------------


def test_public_get_hides_organizer_fields(
    client, create, make_user, auth_headers, organizer_headers
):
    session_id = create()["id"]

    anonymous = client.get(f"{URL}/{session_id}")
    volunteer = client.get(f"{URL}/{session_id}", headers=auth_headers(make_user("volunteer")))
    organizer = client.get(f"{URL}/{session_id}", headers=organizer_headers)

    for response in (anonymous, volunteer):
        assert response.status_code == 200
        assert not ORGANIZER_ONLY_FIELDS & set(response.json)
        assert response.json["id"] == session_id
        assert response.json["roles"]
    assert organizer.status_code == 200
    assert ORGANIZER_ONLY_FIELDS <= set(organizer.json)
    assert organizer.json["registered_count"] == 0


# --- change -------------------------------------------------------------------------


def patch(client, session_id: int, headers: dict, **changes):
    return client.patch(f"{URL}/{session_id}", json=changes, headers=headers)


def test_reschedule_raises_version_and_sequence(client, create, organizer_headers):
    session = create()
    new_start = local_in(12, hour=8)

    response = patch(
        client,
        session["id"],
        organizer_headers,
        starts_at=new_start.isoformat(),
        ends_at=(new_start + timedelta(hours=3)).isoformat(),
        reason="Đổi lịch theo UBND phường",
    )

    assert response.status_code == 200
    assert response.json["version"] == 2
    assert response.json["sequence"] == 1
    assert response.json["starts_at"] == f"{new_start.isoformat()}+07:00"
    [changed] = events("session.changed", session["id"])
    assert changed.payload["fields"] == ["ends_at", "starts_at"]
    assert changed.reason == "Đổi lịch theo UBND phường"
    assert "Đổi lịch" not in json.dumps(changed.payload, ensure_ascii=False)


def test_description_change_raises_version_but_not_sequence(client, create, organizer_headers):
    session = create()

    response = patch(client, session["id"], organizer_headers, description="Mang theo CCCD")

    assert response.status_code == 200
    assert response.json["description"] == "Mang theo CCCD"
    assert response.json["version"] == 2
    assert response.json["sequence"] == 0
    [changed] = events("session.changed", session["id"])
    assert changed.payload["fields"] == ["description"]


def test_patch_that_changes_nothing_writes_nothing(client, create, organizer_headers):
    session = create()

    response = patch(
        client,
        session["id"],
        organizer_headers,
        title=session["title"],
        starts_at=session["starts_at"],
    )

    assert response.status_code == 200
    assert response.json["version"] == 1
    assert events("session.changed") == []


def test_only_one_side_of_the_time_may_still_not_exceed_twelve_hours(
    client, create, organizer_headers
):
    session = create()
    too_late = datetime.fromisoformat(session["starts_at"]) + timedelta(hours=13)

    response = patch(client, session["id"], organizer_headers, ends_at=too_late.isoformat())

    body = assert_contract_error(response, 422, "validation_error")
    assert "ends_at" in body["messages"]
    assert db.session.get(TrainingSession, session["id"]).version == 1


def test_ward_change_writes_changed_event_with_previous_ward(client, create, organizer_headers):
    session = create(ward="kim_lien")

    response = patch(client, session["id"], organizer_headers, ward="cat_linh")

    assert response.status_code == 200
    assert response.json["ward"] == "cat_linh"
    assert response.json["sequence"] == 1
    [changed] = events("session.changed", session["id"])
    assert changed.aggregate_type == "session"
    assert changed.payload["ward"] == "cat_linh"
    assert changed.payload["previous_ward"] == "kim_lien"
    assert changed.payload["fields"] == ["ward"]


def test_change_without_ward_change_has_no_previous_ward(client, create, organizer_headers):
    session = create()

    patch(client, session["id"], organizer_headers, capacity=30)

    [changed] = events("session.changed", session["id"])
    assert "previous_ward" not in changed.payload
    assert changed.payload["ward"] == "kim_lien"


def _confirm(session_id: int, role: str, taken: int) -> None:
    """Simulate confirmed bookings by setting SessionRole.taken directly."""
    role_row(session_id, role).taken = taken
    db.session.commit()


def test_role_count_below_confirmed_is_a_conflict(client, create, organizer_headers):
    session = create()
    _confirm(session["id"], "helper", 2)

    response = patch(
        client,
        session["id"],
        organizer_headers,
        roles=[{"role": "lead", "count": 1}, {"role": "helper", "count": 1}],
    )

    body = assert_contract_error(response, 409, "conflict")
    assert "roles" in body["messages"]
    after = client.get(f"{URL}/{session['id']}", headers=organizer_headers).json
    assert roles_by_name(after)["helper"]["count"] == 2
    assert roles_by_name(after)["helper"]["confirmed"] == 2
    assert after["version"] == 1
    assert events("session.changed") == []


def test_refused_role_change_leaves_every_role_in_place(client, create, organizer_headers):
    """Dropping 'lead' is fine alone, but 'helper' is refused: nothing may change."""
    session = create()
    _confirm(session["id"], "helper", 2)

    response = patch(
        client, session["id"], organizer_headers, roles=[{"role": "helper", "count": 1}]
    )
    assert response.status_code == 409
    # A later successful write in the same app context must not commit the half-change.
    assert patch(client, session["id"], organizer_headers, capacity=40).status_code == 200

    after = client.get(f"{URL}/{session['id']}").json
    assert set(roles_by_name(after)) == {"lead", "helper"}
    assert roles_by_name(after)["helper"]["count"] == 2
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SessionRole)
            .where(SessionRole.session_id == session["id"])
        )
        == 2
    )


def test_dropping_a_role_with_confirmed_people_is_a_conflict(client, create, organizer_headers):
    session = create()
    _confirm(session["id"], "helper", 1)

    response = patch(client, session["id"], organizer_headers, roles=[{"role": "lead", "count": 1}])

    assert_contract_error(response, 409, "conflict")


def test_role_count_down_to_confirmed_is_allowed(client, create, organizer_headers):
    session = create(roles=[{"role": "helper", "count": 3}])
    _confirm(session["id"], "helper", 2)

    response = patch(
        client, session["id"], organizer_headers, roles=[{"role": "helper", "count": 2}]
    )

    assert response.status_code == 200
    assert roles_by_name(response.json)["helper"] == {
        "role": "helper",
        "count": 2,
        "required_skills": [],
        "confirmed": 2,
    }
    assert response.json["version"] == 2


def test_adding_a_role_keeps_the_others_and_their_bookings(client, create, organizer_headers):
    session = create()
    _confirm(session["id"], "helper", 1)

    response = patch(
        client,
        session["id"],
        organizer_headers,
        roles=[
            {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"]},
            {"role": "helper", "count": 2},
            {"role": "interpreter", "count": 1, "required_skills": ["sign_language"]},
        ],
    )

    assert response.status_code == 200
    roles = roles_by_name(response.json)
    assert set(roles) == {"lead", "helper", "interpreter"}
    assert roles["interpreter"] == {
        "role": "interpreter",
        "count": 1,
        "required_skills": ["sign_language"],
        "confirmed": 0,
    }
    assert roles["helper"]["confirmed"] == 1
    assert role_row(session["id"], "helper").taken == 1
    [changed] = events("session.changed", session["id"])
    assert changed.payload["fields"] == ["roles"]
    assert response.json["sequence"] == 0


def test_volunteer_may_not_change_a_session(client, create, make_user, auth_headers):
    session = create()
    headers = auth_headers(make_user("volunteer"))

    response = patch(client, session["id"], headers, title="Hijacked")

    assert_contract_error(response, 403, "forbidden")
    assert client.get(f"{URL}/{session['id']}").json["title"] == session["title"]


def test_anonymous_may_not_change_a_session(client, create):
    session = create()

    response = client.patch(f"{URL}/{session['id']}", json={"title": "Hijacked"})

    assert_contract_error(response, 401, "unauthorized")


def test_patch_of_a_missing_session_is_404(client, ready, organizer_headers):
    response = patch(client, 999, organizer_headers, title="x")

    assert_contract_error(response, 404, "not_found")


# --- cancel -------------------------------------------------------------------------


def cancel(client, session_id: int, headers: dict, body=None):
    return client.post(f"{URL}/{session_id}/cancel", json=body, headers=headers)


def test_cancel_with_reason(client, create, organizer_headers):
    session = create()

    response = cancel(client, session["id"], organizer_headers, {"reason": "Mưa bão"})

    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["cancel_reason"] == "Mưa bão"
    assert response.json["version"] == 2
    assert response.json["sequence"] == 1
    assert response.json["cancelled_at"] is not None
    public = client.get(f"{URL}/{session['id']}").json
    assert public["status"] == "cancelled"


def test_second_cancel_is_a_conflict(client, create, organizer_headers):
    session = create()
    assert (
        cancel(client, session["id"], organizer_headers, {"reason": "Mưa bão"}).status_code == 200
    )

    response = cancel(client, session["id"], organizer_headers, {"reason": "Lần nữa"})

    assert_contract_error(response, 409, "conflict")
    assert len(events("session.cancelled")) == 1
    assert db.session.get(TrainingSession, session["id"]).cancel_reason == "Mưa bão"


def test_patch_after_cancel_is_a_conflict(client, create, organizer_headers):
    session = create()
    cancel(client, session["id"], organizer_headers, {"reason": "Mưa bão"})

    response = patch(client, session["id"], organizer_headers, description="Đổi")

    assert_contract_error(response, 409, "conflict")
    assert events("session.changed") == []


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": None}])
def test_cancel_needs_a_reason(client, create, organizer_headers, body):
    session = create()

    response = cancel(client, session["id"], organizer_headers, body)

    body = assert_contract_error(response, 422, "validation_error")
    assert "reason" in body["messages"]
    assert client.get(f"{URL}/{session['id']}").json["status"] == "published"
    assert events("session.cancelled") == []


def test_volunteer_may_not_cancel(client, create, make_user, auth_headers):
    session = create()

    response = cancel(
        client, session["id"], auth_headers(make_user("volunteer")), {"reason": "Không thích"}
    )

    assert_contract_error(response, 403, "forbidden")
    assert client.get(f"{URL}/{session['id']}").json["status"] == "published"


def test_cancel_of_a_missing_session_is_404(client, ready, organizer_headers):
    response = cancel(client, 999, organizer_headers, {"reason": "x"})

    assert_contract_error(response, 404, "not_found")


# --- events -------------------------------------------------------------------------


def _assert_no_personal_data(event: DomainEvent, *secrets: str) -> None:
    assert set(event.payload) <= EVENT_PAYLOAD_KEYS
    text = json.dumps(event.payload, ensure_ascii=False)
    for secret in secrets:
        assert secret not in text


def test_published_event_has_the_ward_and_no_personal_data(
    client, ready, make_user, auth_headers, session_payload
):
    organizer = make_user("organizer", email="to.chuc@example.vn")
    payload = session_payload(ward="hang_bot")
    response = client.post(URL, json=payload, headers=auth_headers(organizer))
    session_id = response.json["id"]

    [published] = events("session.published", session_id)

    assert published.aggregate_type == "session"
    assert published.payload["ward"] == "hang_bot"
    assert published.payload["session_id"] == session_id
    assert published.actor_id == organizer.id
    _assert_no_personal_data(
        published, organizer.email, payload["title"], payload["venue"], payload["description"]
    )


def test_cancelled_event_has_the_ward_and_no_personal_data(
    client, ready, make_user, auth_headers, session_payload
):
    organizer = make_user("organizer", email="huy.buoi@example.vn")
    headers = auth_headers(organizer)
    session_id = client.post(URL, json=session_payload(ward="cat_linh"), headers=headers).json["id"]
    reason = "Chị Lan (0912 345 678) bị ốm"

    assert cancel(client, session_id, headers, {"reason": reason}).status_code == 200
    [cancelled] = events("session.cancelled", session_id)

    assert cancelled.payload["ward"] == "cat_linh"
    assert cancelled.payload["session_id"] == session_id
    assert cancelled.reason == reason  # the audit trail, not the payload jobs receive
    assert cancelled.actor_id == organizer.id
    _assert_no_personal_data(cancelled, organizer.email, "0912", "Lan")
