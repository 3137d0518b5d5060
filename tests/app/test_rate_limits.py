"""Rate limits on logins, token creation, self sign-up and private feed token misses:
counted in the real Redis (shared by every process), 429 with Retry-After, and still
counted (in memory) while Redis is down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.models import User, Volunteer
from tests.api_helpers import assert_error
from tests.calendar.feed_helpers import feed_link
from tests.conftest import sibling_app
from tests.notifications.notification_helpers import free_port
from tests.page_helpers import csrf_token

LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATE_LIMIT_LOGIN": "3 per minute",
    "RATE_LIMIT_SIGNUP": "2 per minute",
    "RATE_LIMIT_FEED_MISSES": "2 per minute",
}
SIGN_UP_PASSWORD = "a-long-password"
MISSING_TOKEN = "A" * 43  # the shape of a feed token, naming nobody


def _limited_app(app, **overrides):
    """A second app on the same database and Redis, with small limits switched on."""
    return sibling_app(app, **{**LIMITS, **overrides})


@pytest.fixture
def limited(app):
    return _limited_app(app).test_client()


def _token_attempt(client, email, password="wrong-password", address="192.0.2.10"):
    return client.post(
        "/api/v1/auth/tokens",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _assert_too_many(response) -> None:
    body = assert_error(response, 429, code="too_many_requests")
    assert "Too many" in body["message"] or "quá nhiều" in body["message"].lower()
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60


def test_token_creation_is_limited_per_address_with_retry_after(limited, make_user):
    user = make_user("volunteer")
    for _ in range(3):
        assert _token_attempt(limited, user.email).status_code == 401
    _assert_too_many(_token_attempt(limited, user.email))
    # The right password does not get past the limit either: it is the guesser's door.
    _assert_too_many(_token_attempt(limited, user.email, password="correct-horse-battery"))
    # Another address has its own count.
    other = _token_attempt(
        limited, user.email, password="correct-horse-battery", address="192.0.2.99"
    )
    assert other.status_code == 201


def test_page_login_shares_the_count_and_answers_with_a_page(limited, make_user):
    user = make_user("volunteer")
    for _ in range(3):
        assert _token_attempt(limited, user.email).status_code == 401
    token = csrf_token(limited, "/login")  # showing the form is not an attempt
    response = limited.post(
        "/login",
        data={"email": user.email, "password": "correct-horse-battery", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Too many attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_counts_live_in_redis_and_are_shared_by_every_process(app, make_user):
    user = make_user("volunteer")
    first, second = _limited_app(app).test_client(), _limited_app(app).test_client()
    assert _token_attempt(first, user.email).status_code == 401
    assert _token_attempt(second, user.email).status_code == 401
    assert _token_attempt(first, user.email).status_code == 401
    _assert_too_many(_token_attempt(second, user.email))
    from coordinator.extensions import redis_connection

    assert any(b"login" in key for key in redis_connection.client.keys("LIMITS*"))


def _self_sign_up(client, payload: dict, address: str):
    return client.post("/api/v1/volunteers", json=payload, environ_base={"REMOTE_ADDR": address})


def test_self_sign_up_is_limited_but_organizers_registering_are_not(
    limited, volunteer_payload, organizer_headers, wards
):
    address = "198.51.100.7"
    for _ in range(2):
        response = _self_sign_up(limited, volunteer_payload(password=SIGN_UP_PASSWORD), address)
        assert response.status_code == 201, response.json
    refused = volunteer_payload(password=SIGN_UP_PASSWORD)
    _assert_too_many(_self_sign_up(limited, refused, address))
    assert db.session.scalar(sa.select(User).where(User.email == refused["email"])) is None
    db.session.rollback()
    # An organizer entering volunteers from one office is not a sign-up flood.
    for _ in range(3):
        response = limited.post(
            "/api/v1/volunteers",
            json=volunteer_payload(),
            headers=organizer_headers,
            environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 201, response.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Volunteer)) == 5


def test_page_registration_shares_the_sign_up_count(limited, volunteer_payload, wards):
    address = "198.51.100.8"
    for _ in range(2):
        response = _self_sign_up(limited, volunteer_payload(password=SIGN_UP_PASSWORD), address)
        assert response.status_code == 201, response.json
    token = csrf_token(limited, "/register")
    response = limited.post(
        "/register",
        data={
            "full_name": "Trần Văn Nam",
            "email": "nam@example.vn",
            "home_ward": "kim_lien",
            "password": SIGN_UP_PASSWORD,
            "consent": "y",
            "csrf_token": token,
        },
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == 429
    assert db.session.scalar(sa.select(User).where(User.email == "nam@example.vn")) is None


def test_only_feed_token_misses_count(limited, make_volunteer):
    _volunteer_id, headers = make_volunteer()
    link = feed_link(limited, headers)
    address = {"REMOTE_ADDR": "203.0.113.5"}
    for _ in range(5):  # a calendar polling its good link is never limited
        assert limited.get(link, environ_base=address).status_code == 200
    missing = f"/calendar/v/{MISSING_TOKEN}.ics"
    for _ in range(2):
        assert limited.get(missing, environ_base=address).status_code == 404
    _assert_too_many(limited.get(missing, environ_base=address))
    # Misses from that address are refused now; its good links are not (a calendar
    # service fetches for many people from one address).
    _assert_too_many(limited.get(f"/calendar/p/{MISSING_TOKEN}.ics", environ_base=address))
    assert limited.get(link, environ_base=address).status_code == 200
    assert limited.get(link, environ_base={"REMOTE_ADDR": "203.0.113.6"}).status_code == 200


def test_with_redis_down_sign_ups_succeed_and_limits_count_in_memory(app, volunteer_payload, wards):
    down = _limited_app(app, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()
    address = "198.51.100.9"
    for _ in range(2):
        response = _self_sign_up(down, volunteer_payload(password=SIGN_UP_PASSWORD), address)
        assert response.status_code == 201, response.json
    _assert_too_many(_self_sign_up(down, volunteer_payload(password=SIGN_UP_PASSWORD), address))


def test_a_limit_that_is_not_one_stops_the_start(app):
    with pytest.raises(RuntimeError, match="RATE_LIMIT_LOGIN"):
        _limited_app(app, RATE_LIMIT_LOGIN="ten a minute")


def test_the_openapi_document_names_the_429s(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, method in [
        ("/api/v1/auth/tokens", "post"),
        ("/api/v1/volunteers", "post"),
        ("/api/v1/participants", "post"),
    ]:
        assert "429" in paths[path][method]["responses"], path
