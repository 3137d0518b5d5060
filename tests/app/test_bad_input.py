"""Bad input gets the contract's error shape, never a 500, and never writes a row."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.errors import HTTP_CODES
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.sessions.models import SessionRole, TrainingSession

URL = "/api/v1/sessions"
MISSING = object()  # an override that removes the field from the payload


@pytest.fixture
def ready(wards, competences):
    """Wards and the competence framework that sessions refer to."""


def row_counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (TrainingSession, SessionRole, DomainEvent)
    }


def assert_contract_error(response, status: int, *fields: str) -> dict:
    """The contract: {"error", "message", "messages"?}, the code matching the status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) <= {"error", "message", "messages"}, body
    assert body["error"] == HTTP_CODES[status]
    assert isinstance(body["message"], str) and body["message"].strip()
    if "messages" in body:
        assert isinstance(body["messages"], dict) and body["messages"]
    for field in fields:
        assert field in body.get("messages", {}), body
    return body


@pytest.fixture
def rejected(client, ready, organizer_headers):
    """POST/PATCH as an organizer, assert the contract error and that no row was written."""

    def send(method: str, url: str, status: int, *fields: str, **kwargs) -> dict:
        before = row_counts()
        response = client.open(url, method=method, headers=organizer_headers, **kwargs)
        body = assert_contract_error(response, status, *fields)
        assert row_counts() == before
        return body

    return send


def future(days: int = 7, hours: float = 0) -> str:
    return (utcnow() + timedelta(days=days, hours=hours)).replace(microsecond=0).isoformat()


# --- creating a session ---------------------------------------------------------------

CREATE_CASES = {
    "end before start": ({"starts_at": future(7, 2), "ends_at": future(7)}, "ends_at"),
    "end equals start": ({"starts_at": future(7), "ends_at": future(7)}, "ends_at"),
    "longer than 12 hours": ({"starts_at": future(7), "ends_at": future(7, 13)}, "ends_at"),
    "negative capacity": ({"capacity": -1}, "capacity"),
    "capacity as words": ({"capacity": "ten"}, "capacity"),
    "capacity as a numeric string": ({"capacity": "10"}, "capacity"),
    "fractional capacity": ({"capacity": 2.5}, "capacity"),
    "capacity true": ({"capacity": True}, "capacity"),
    "huge capacity": ({"capacity": 10**30}, "capacity"),
    "start as words": ({"starts_at": "tomorrow"}, "starts_at"),
    "start as a number": ({"starts_at": 1767225600}, "starts_at"),
    "start in the past": (
        {"starts_at": future(-1), "ends_at": future(-1, 2)},
        "starts_at",
    ),
    "start in year 9999": (
        {"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T21:00:00-05:00"},
        "starts_at",
    ),
    "unknown ward": ({"ward": "atlantis"}, "ward"),
    "unknown competence area": ({"competence_area": "99.9"}, "competence_area"),
    "unknown target group": ({"target_group": "aliens"}, "target_group"),
    "unknown venue accessibility": ({"venue_accessibility": ["teleporter"]}, "venue_accessibility"),
    "unknown participant need": ({"participant_needs": ["telepathy"]}, "participant_needs"),
    "unknown field": ({"colour": "red"}, "colour"),
    "missing title": ({"title": MISSING}, "title"),
    "missing starts_at": ({"starts_at": MISSING}, "starts_at"),
    "empty title": ({"title": ""}, "title"),
    "title with NUL": ({"title": "Buổi\x00học"}, "title"),
    "venue as a list": ({"venue": ["a"]}, "venue"),
    "description null": ({"description": None}, "description"),
    "bad language tag": ({"languages": ["not a tag!"]}, "languages"),
    "duplicate language": ({"languages": ["vi", "vi"]}, "languages"),
    "duplicate role names": (
        {"roles": [{"role": "helper", "count": 1}, {"role": "helper", "count": 2}]},
        "roles",
    ),
    "negative role count": ({"roles": [{"role": "helper", "count": -1}]}, "roles"),
    "role name not a slug": ({"roles": [{"role": "Người hỗ trợ", "count": 1}]}, "roles"),
    "role without count": ({"roles": [{"role": "helper"}]}, "roles"),
    "unknown role field": ({"roles": [{"role": "helper", "count": 1, "x": 1}]}, "roles"),
    "roles not a list": ({"roles": "helper"}, "roles"),
    "repeat zero weeks": ({"repeat": {"weekly": 0}}, "repeat"),
    "repeat too many weeks": ({"repeat": {"weekly": 53}}, "repeat"),
    "repeat as a number": ({"repeat": 4}, "repeat"),
    "repeat null": ({"repeat": None}, "repeat"),
}


@pytest.mark.parametrize(("overrides", "field"), CREATE_CASES.values(), ids=CREATE_CASES.keys())
def test_create_rejects(rejected, session_payload, overrides, field):
    payload = {k: v for k, v in session_payload(**overrides).items() if v is not MISSING}

    rejected("POST", URL, 422, field, json=payload)


def test_unknown_field_is_named_in_the_message(rejected, session_payload):
    body = rejected("POST", URL, 422, "colour", json=session_payload(colour="red"))

    assert set(body["messages"]) == {"colour"}


def test_several_bad_fields_are_all_reported(rejected, session_payload):
    payload = session_payload(capacity=-5, target_group="aliens", starts_at="tomorrow")

    rejected("POST", URL, 422, "capacity", "target_group", "starts_at", json=payload)


def test_repeat_series_is_all_or_nothing(rejected, session_payload):
    """A bad reference is found before any session of the series is written."""
    rejected("POST", URL, 422, "ward", json=session_payload(ward="atlantis", repeat={"weekly": 4}))


# --- changing a session ---------------------------------------------------------------


@pytest.fixture
def session_id(client, ready, organizer_headers, session_payload) -> int:
    response = client.post(URL, json=session_payload(), headers=organizer_headers)
    assert response.status_code == 201
    return response.json["id"]


def _start_of(client, session_id: int) -> datetime:
    return datetime.fromisoformat(client.get(f"{URL}/{session_id}").json["starts_at"])


PATCH_CASES = {
    "unknown ward": ({"ward": "atlantis"}, "ward"),
    "unknown competence area": ({"competence_area": "nope"}, "competence_area"),
    "unknown target group": ({"target_group": "aliens"}, "target_group"),
    "negative capacity": ({"capacity": -1}, "capacity"),
    "capacity as words": ({"capacity": "ten"}, "capacity"),
    "unknown field": ({"colour": "red"}, "colour"),
    "start as words": ({"starts_at": "tomorrow"}, "starts_at"),
    "start in the past": ({"starts_at": future(-2), "ends_at": future(-2, 1)}, "starts_at"),
    "end before start in the body": ({"starts_at": future(8, 2), "ends_at": future(8)}, "ends_at"),
    "duplicate role names": (
        {"roles": [{"role": "lead", "count": 1}, {"role": "lead", "count": 1}]},
        "roles",
    ),
    "status is not writable": ({"status": "completed"}, "status"),
    "version is not writable": ({"version": 9}, "version"),
}


@pytest.mark.parametrize(("changes", "field"), PATCH_CASES.values(), ids=PATCH_CASES.keys())
def test_patch_rejects(client, rejected, session_id, changes, field):
    rejected("PATCH", f"{URL}/{session_id}", 422, field, json=changes)

    assert client.get(f"{URL}/{session_id}").json["version"] == 1


def test_patch_end_before_the_stored_start(client, rejected, session_id):
    before_start = _start_of(client, session_id) - timedelta(minutes=30)

    rejected(
        "PATCH", f"{URL}/{session_id}", 422, "ends_at", json={"ends_at": before_start.isoformat()}
    )


def test_patch_start_after_the_stored_end(client, rejected, session_id):
    after_end = _start_of(client, session_id) + timedelta(hours=5)

    rejected(
        "PATCH", f"{URL}/{session_id}", 422, "ends_at", json={"starts_at": after_end.isoformat()}
    )


def test_cancel_rejects_an_unknown_field(rejected, session_id):
    rejected("POST", f"{URL}/{session_id}/cancel", 422, "extra", json={"reason": "x", "extra": 1})


# --- bodies that are not JSON -----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{bad", b'{"title": "a",}', b"\xff\xfe\xfa", b"[" * 100_000],
    ids=["truncated", "trailing comma", "not UTF-8", "absurdly deep"],
)
def test_malformed_json_is_400(rejected, body):
    rejected("POST", URL, 400, data=body, content_type="application/json")


def test_empty_json_body_is_a_validation_error(rejected):
    rejected("POST", URL, 422, "title", "starts_at", data=b"", content_type="application/json")


def test_malformed_json_on_patch_is_400(rejected, session_id):
    rejected("PATCH", f"{URL}/{session_id}", 400, data=b"{", content_type="application/json")


@pytest.mark.parametrize("body", [b"null", b"[]", b'"text"', b"42"])
def test_json_that_is_not_an_object_is_422(rejected, body):
    rejected("POST", URL, 422, data=body, content_type="application/json")


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", b'{"title": "x"}'),
        ("application/x-www-form-urlencoded", b"title=x"),
        ("multipart/form-data; boundary=xx", b"--xx--"),
        ("application/xml", b"<session/>"),
    ],
)
def test_non_json_content_type_is_415(rejected, content_type, data):
    body = rejected("POST", URL, 415, "content_type", data=data, content_type=content_type)

    assert content_type.split(";")[0] in body["messages"]["content_type"][0]


def test_non_json_content_type_on_patch_is_415(rejected, session_id):
    rejected("PATCH", f"{URL}/{session_id}", 415, data=b"title=x", content_type="text/plain")


def test_too_large_a_body_is_413(rejected):
    huge = b'{"title": "' + b"a" * (3 * 1024 * 1024) + b'"}'

    rejected("POST", URL, 413, data=huge, content_type="application/json")


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{URL}/999",
        f"{URL}/0",
        f"{URL}/99999999999999999999",
        f"{URL}/2147483648",
        f"{URL}/abc",
        f"{URL}/-1",
    ],
)
def test_missing_session_is_404(client, path):
    assert_contract_error(client.get(path), 404)


def test_huge_id_on_a_write_is_404(rejected):
    rejected("PATCH", f"{URL}/99999999999999999999", 404, json={"title": "x"})


QUERY_CASES = {
    "from not a date": ({"from": "notadate"}, "from"),
    "to not a date": ({"to": "31/12/2026"}, "to"),
    "to before from": ({"from": future(5), "to": future(4)}, "to"),
    "from in year 10000": ({"from": "10000-01-01T00:00:00"}, "from"),
    "limit zero": ({"limit": 0}, "limit"),
    "limit too large": ({"limit": 100_000}, "limit"),
    "limit not a number": ({"limit": "ten"}, "limit"),
    "negative offset": ({"offset": -1}, "offset"),
    "huge offset": ({"offset": 10**20}, "offset"),
    "unknown target group": ({"target_group": "aliens"}, "target_group"),
    "unknown status": ({"status": "deleted"}, "status"),
    "NUL in ward": ({"ward": "kim\x00lien"}, "ward"),
    # Found by the fuzz test: unknown parameters were dropped, so a misspelt filter
    # answered for every session.
    "misspelt parameter": ({"targetgroup": "students"}, "targetgroup"),
}


@pytest.mark.parametrize(("query", "field"), QUERY_CASES.values(), ids=QUERY_CASES.keys())
def test_bad_query_args_are_422(client, query, field):
    response = client.get(URL, query_string=query)

    assert_contract_error(response, 422, field)


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/sessions/1/nope", "/api/v2/sessions"])
def test_unknown_route_is_404_in_contract_json(client, path):
    assert_contract_error(client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", URL, {"GET", "POST"}),
        ("PUT", URL, {"GET", "POST"}),
        ("DELETE", f"{URL}/1", {"GET", "PATCH"}),
        ("GET", f"{URL}/1/cancel", {"POST"}),
    ],
)
def test_method_not_allowed_is_405_in_contract_json(client, method, path, allowed):
    response = client.open(path, method=method)

    assert_contract_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_a_method_the_route_lacks_is_405_whatever_the_body(client, organizer_headers):
    """Found by the fuzz test: the body check ran first and answered 415 instead."""
    response = client.put(
        "/api/v1/progress/targets",
        data="ward,target_group,year,baseline,target_percent\n",
        headers={**organizer_headers, "Content-Type": "text/csv"},
    )

    assert_contract_error(response, 405)


# --- database refusals ------------------------------------------------------------------


class _DriverError(Exception):
    """Stands in for a DBAPI exception (psycopg's DataError on a NUL, say)."""


@pytest.mark.parametrize(
    ("error", "status"),
    [(sa.exc.DataError, 422), (sa.exc.IntegrityError, 409)],
    ids=["data error", "integrity error"],
)
def test_database_refusing_a_value_is_not_a_500(app, client, error, status):
    """Whatever slips past the schemas and reaches the database is still no 500."""

    def refused():
        raise error("INSERT ...", {"title": "secret"}, _DriverError("refused"))

    app.add_url_rule("/api/v1/_test_refused", "test_refused", refused)

    assert_contract_error(client.get("/api/v1/_test_refused"), status)
