"""GET /api/v1/auth/tokens and DELETE /api/v1/auth/tokens/{id}: the caller's own bearer
tokens, listed without their secrets, and revoked by their owner."""

from __future__ import annotations

import json

import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import ApiToken
from tests.api_helpers import assert_error

TOKENS = "/api/v1/auth/tokens"
PROTECTED = "/api/v1/volunteers"  # organizers only


def secret(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_the_list_shows_only_the_callers_live_tokens_without_secrets(
    client, make_user, auth_headers
):
    me, someone = make_user("organizer"), make_user("organizer")
    first, second = auth_headers(me), auth_headers(me)
    theirs = auth_headers(someone)
    revoked = auth_headers(me)
    db.session.scalar(
        sa.select(ApiToken).order_by(ApiToken.id.desc()).limit(1)
    ).revoked_at = utcnow()
    db.session.commit()

    response = client.get(TOKENS, headers=second)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["Cache-Control"] == "no-store"
    listed = response.json
    assert [row["current"] for row in listed] == [True, False]  # newest first
    assert {row["prefix"] for row in listed} == {secret(first)[:6], secret(second)[:6]}
    assert set(listed[0]) == {"id", "prefix", "created_at", "expires_at", "current"}
    body = json.dumps(listed)
    for headers in (first, second, theirs, revoked):
        assert secret(headers) not in body
    for row in db.session.scalars(sa.select(ApiToken)):
        assert row.token_hash not in body


def test_the_list_pages_with_limit_and_offset(client, make_user, auth_headers):
    me = make_user("volunteer")
    tokens = [auth_headers(me) for _ in range(3)]
    page = client.get(TOKENS, query_string={"limit": 1, "offset": 1}, headers=tokens[0])
    assert page.status_code == 200 and len(page.json) == 1
    assert page.headers["X-Total-Count"] == "3"


def test_deleting_an_own_token_is_204_and_it_then_gets_401(client, make_user, auth_headers):
    me = make_user("organizer")
    keep, drop = auth_headers(me), auth_headers(me)
    drop_id = next(row["id"] for row in client.get(TOKENS, headers=drop).json if row["current"])
    assert client.get(PROTECTED, headers=drop).status_code == 200

    response = client.delete(f"{TOKENS}/{drop_id}", headers=keep)
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(client.get(PROTECTED, headers=drop), 401)
    assert client.get(PROTECTED, headers=keep).status_code == 200
    assert [row["current"] for row in client.get(TOKENS, headers=keep).json] == [True]
    # Already revoked: the same 404 as for an id that names nothing.
    assert_error(client.delete(f"{TOKENS}/{drop_id}", headers=keep), 404)


def test_a_token_can_revoke_itself(client, make_user, auth_headers):
    headers = auth_headers(make_user("volunteer"))
    own_id = client.get(TOKENS, headers=headers).json[0]["id"]
    assert client.delete(f"{TOKENS}/{own_id}", headers=headers).status_code == 204
    assert_error(client.get(TOKENS, headers=headers), 401)


def test_someone_elses_token_is_404_and_stays_valid(client, make_user, auth_headers):
    mine, theirs = auth_headers(make_user("admin")), auth_headers(make_user("organizer"))
    their_id = client.get(TOKENS, headers=theirs).json[0]["id"]
    assert_error(client.delete(f"{TOKENS}/{their_id}", headers=mine), 404, code="not_found")
    assert_error(client.delete(f"{TOKENS}/999999", headers=mine), 404, code="not_found")
    assert client.get(PROTECTED, headers=theirs).status_code == 200


def test_anonymous_callers_and_page_sessions_get_401(client, make_user):
    from tests.page_helpers import log_in

    assert_error(client.get(TOKENS), 401)
    assert_error(client.delete(f"{TOKENS}/1"), 401)
    log_in(client, make_user("volunteer").email)  # a page cookie is no API credential
    assert_error(client.get(TOKENS), 401)
