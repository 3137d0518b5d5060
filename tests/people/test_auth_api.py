"""POST /api/v1/auth/tokens and bearer authentication on protected endpoints."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import ApiToken, User
from tests.api_helpers import assert_error
from tests.conftest import PASSWORD

TOKENS = "/api/v1/auth/tokens"
PROTECTED = "/api/v1/volunteers"  # organizers only: 401 anonymous, 200 with a good token


def token_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken))


def login(client, email: str, password: str = PASSWORD):
    return client.post(TOKENS, json={"email": email, "password": password})


def test_correct_credentials_give_201_with_token_and_expiry_in_display_zone(app, client, make_user):
    user = make_user("organizer")

    response = login(client, user.email)

    assert response.status_code == 201
    assert set(response.json) == {"token", "expires_at"}
    assert len(response.json["token"]) >= 32
    expires_at = datetime.fromisoformat(response.json["expires_at"])
    assert expires_at.utcoffset() == timedelta(hours=7)
    ttl = timedelta(hours=app.config["API_TOKEN_TTL_HOURS"])
    assert abs(expires_at - (utcnow() + ttl)) < timedelta(minutes=1)


def test_only_the_sha256_of_a_token_is_stored(client, make_user):
    user = make_user("volunteer")

    token = login(client, user.email).json["token"]

    row = db.session.scalars(sa.select(ApiToken)).one()
    assert row.user_id == user.id
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash


def test_each_login_gets_a_distinct_token(client, make_user):
    user = make_user("volunteer")

    first, second = login(client, user.email), login(client, user.email)

    assert first.json["token"] != second.json["token"]
    assert token_count() == 2


def test_email_is_matched_case_insensitively(client, make_user):
    make_user("volunteer", email="thu.ha@example.vn")

    assert login(client, "Thu.Ha@Example.VN").status_code == 201


def test_wrong_password_is_401_and_issues_no_token(client, make_user):
    user = make_user("organizer")

    response = login(client, user.email, "not-the-password")

    assert_error(response, 401)
    assert token_count() == 0


def test_unknown_email_gets_the_same_401_as_a_wrong_password(client, make_user):
    user = make_user("organizer")

    wrong_password = login(client, user.email, "not-the-password")
    unknown_email = login(client, "nobody@example.vn")

    assert_error(unknown_email, 401)
    assert unknown_email.json == wrong_password.json
    assert token_count() == 0


def test_user_without_a_password_cannot_log_in(client):
    from coordinator.people.operations import create_user

    create_user("no-password@example.vn", "volunteer", None)
    db.session.commit()

    assert_error(login(client, "no-password@example.vn", ""), 401)
    assert_error(login(client, "no-password@example.vn", "anything-at-all"), 401)


def test_deactivated_user_cannot_log_in(client, make_user):
    user = make_user("organizer")
    user.active = False
    db.session.commit()

    assert_error(login(client, user.email), 401)
    assert token_count() == 0


def test_token_works_as_bearer_on_a_protected_endpoint(client, make_user, auth_headers):
    headers = auth_headers(make_user("organizer"))

    response = client.get(PROTECTED, headers=headers)

    assert response.status_code == 200
    assert response.json == []


def test_bearer_scheme_is_case_insensitive(client, make_user):
    token = login(client, make_user("organizer").email).json["token"]

    response = client.get(PROTECTED, headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_protected_endpoint_without_token_is_401(client):
    assert_error(client.get(PROTECTED), 401, code="unauthorized")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer ",
        "Bearer \u00e9t\u00e9",
        "Token abc",
        "Basic b3JnYW5pemVyOnBhc3N3b3Jk",
    ],
)
def test_garbage_authorization_is_401_on_a_protected_endpoint(client, header):
    assert_error(client.get(PROTECTED, headers={"Authorization": header}), 401, code="unauthorized")


def test_a_token_with_one_character_changed_is_401(client, make_user):
    token = login(client, make_user("organizer").email).json["token"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")

    response = client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"})

    assert_error(response, 401)


def test_expired_token_is_401(client, make_user, auth_headers):
    headers = auth_headers(make_user("organizer"))
    assert client.get(PROTECTED, headers=headers).status_code == 200
    row = db.session.scalars(sa.select(ApiToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert_error(client.get(PROTECTED, headers=headers), 401, code="unauthorized")


def test_revoked_token_is_401(client, make_user, auth_headers):
    headers = auth_headers(make_user("organizer"))
    db.session.scalars(sa.select(ApiToken)).one().revoked_at = utcnow()
    db.session.commit()

    assert_error(client.get(PROTECTED, headers=headers), 401)


def test_token_of_a_user_deactivated_later_is_401(client, make_user, auth_headers):
    user = make_user("organizer")
    headers = auth_headers(user)
    db.session.get(User, user.id).active = False  # requests end their session: re-read
    db.session.commit()

    assert_error(client.get(PROTECTED, headers=headers), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "organizer@example.vn"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": 42, "password": PASSWORD}, "email"),
        ({"email": "organizer@example.vn", "password": ["x"]}, "password"),
        ({"email": "organizer@example.vn", "password": "x" * 1025}, "password"),
        ({"email": "organizer@example.vn", "password": PASSWORD, "role": "admin"}, "role"),
    ],
)
def test_invalid_token_request_is_422_with_field_message(client, make_user, body, field):
    make_user("organizer", email="organizer@example.vn")

    body = assert_error(client.post(TOKENS, json=body), 422, code="validation_error")

    assert body["messages"][field]
    assert token_count() == 0


def test_token_request_that_is_not_an_object_is_422(client):
    assert_error(client.post(TOKENS, json=["organizer@example.vn", PASSWORD]), 422)


def test_malformed_json_token_request_is_400(client, make_user):
    make_user("organizer", email="organizer@example.vn")

    response = client.post(
        TOKENS, data='{"email": "organizer@example.vn",', content_type="application/json"
    )

    assert_error(response, 400, code="bad_request")
    assert token_count() == 0


def test_form_encoded_token_request_is_415(client, make_user):
    make_user("organizer", email="organizer@example.vn")

    response = client.post(TOKENS, data={"email": "organizer@example.vn", "password": PASSWORD})

    body = assert_error(response, 415, code="unsupported_media_type")
    assert body["messages"]["content_type"]
    assert token_count() == 0


# Found by the fuzz test: these read the body (or looked the id up) before asking who
# calls, so a stranger got 422 and learnt the rules, or 404 and learnt which ids exist.
ANONYMOUS_GETS_401_FIRST = [
    ("POST", "/api/v1/sessions/{session}/assignments"),
    ("POST", "/api/v1/sessions/{session}/signups"),
    ("POST", "/api/v1/sessions/{session}/registrations"),
    ("GET", "/api/v1/sessions/{session}/attendance"),
    ("PUT", "/api/v1/sessions/{session}/attendance"),
    ("POST", "/api/v1/squads"),
    ("PATCH", "/api/v1/squads/4242"),
    ("POST", "/api/v1/squads/4242/members"),
    ("PATCH", "/api/v1/volunteers/4242"),
    ("GET", "/api/v1/assignments/4242"),
    ("POST", "/api/v1/assignments/4242/accept"),
    ("POST", "/api/v1/assignments/4242/decline"),
    ("DELETE", "/api/v1/signups/4242"),
    ("GET", "/api/v1/participants/4242/export"),
    ("DELETE", "/api/v1/participants/4242"),
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS_GETS_401_FIRST)
def test_anonymous_gets_401_before_the_body_or_the_id_is_looked_at(
    client, make_session, method, path
):
    url = path.format(session=make_session()["id"])
    body = {"volunteer_id": "not an id", "unknown": True} if method != "GET" else None

    assert_error(client.open(url, method=method, json=body), 401)


def test_an_anonymous_list_query_is_401_before_it_is_checked(client):
    assert_error(client.get(PROTECTED, query_string={"limit": 0, "typo": 1}), 401)
