"""Idempotency-Key on the API's creating POSTs, and the one-time token of page forms:
a request sent twice, or twenty times at once, creates one row and every copy gets the
first answer."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment, Registration
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.idempotency.models import IdempotencyKey
from coordinator.people.models import Participant, Volunteer
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import tuesday_evening
from tests.page_helpers import csrf_token, log_in, text

COPIES = 20


def _count(model) -> int:
    db.session.rollback()  # a fresh read: the requests committed in other sessions
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_same_key_and_body_answer_the_first_answer_and_create_nothing(
    client, organizer_headers, session_payload, wards, competences
):
    headers = {**organizer_headers, "Idempotency-Key": "7c1f0d1e-session-1"}
    body = session_payload()
    first = client.post("/api/v1/sessions", json=body, headers=headers)
    assert first.status_code == 201, first.json
    # The same members in another order are the same request.
    again = client.post("/api/v1/sessions", json=dict(reversed(body.items())), headers=headers)
    assert again.status_code == 201
    assert again.json == first.json and again.headers.get("Location") == first.headers.get(
        "Location"
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(TrainingSession) == 1

    other = client.post(
        "/api/v1/sessions", json=session_payload(title="Another title"), headers=headers
    )
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json["messages"]
    assert _count(TrainingSession) == 1

    # Without a key, or with a new one, the request runs.
    assert client.post("/api/v1/sessions", json=body, headers=organizer_headers).status_code == 201
    assert _count(TrainingSession) == 2


def test_a_claim_whose_answer_could_not_be_stored_is_given_back(
    app, client, organizer_headers, session_payload, wards, competences, monkeypatch
):
    from coordinator.idempotency import replay

    def broken(key, data):
        raise OSError("the store went away")

    monkeypatch.setattr(replay, "seal", broken)
    monkeypatch.setitem(app.config, "IDEMPOTENCY_WAIT_SECONDS", 1)
    headers = {**organizer_headers, "Idempotency-Key": "store-fails-1"}
    assert (
        client.post("/api/v1/sessions", json=session_payload(), headers=headers).status_code == 201
    )
    assert _count(IdempotencyKey) == 0  # not left claimed without an answer for 24 h
    monkeypatch.undo()
    again = client.post("/api/v1/sessions", json=session_payload(), headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(IdempotencyKey) == 1


def test_keys_belong_to_their_caller(
    client, make_user, auth_headers, session_payload, wards, competences
):
    first = {**auth_headers(make_user("organizer")), "Idempotency-Key": "shared-key"}
    second = {**auth_headers(make_user("organizer")), "Idempotency-Key": "shared-key"}
    assert client.post("/api/v1/sessions", json=session_payload(), headers=first).status_code == 201
    other = client.post("/api/v1/sessions", json=session_payload(title="B"), headers=second)
    assert other.status_code == 201  # another organizer's key of the same name is theirs
    assert _count(TrainingSession) == 2


def test_an_error_is_not_kept_and_a_corrected_retry_runs(
    client, organizer_headers, session_payload, wards, competences
):
    headers = {**organizer_headers, "Idempotency-Key": "retry-after-error"}
    bad = client.post("/api/v1/sessions", json=session_payload(capacity=-1), headers=headers)
    assert bad.status_code == 422 and _count(IdempotencyKey) == 0
    good = client.post("/api/v1/sessions", json=session_payload(capacity=-1), headers=headers)
    assert good.status_code == 422  # the same request runs again: still refused
    fixed = client.post("/api/v1/sessions", json=session_payload(), headers=headers)
    assert fixed.status_code == 201 and _count(TrainingSession) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_a_422(client, organizer_headers, session_payload, wards, key):
    response = client.post(
        "/api/v1/sessions",
        json=session_payload(),
        headers={**organizer_headers, "Idempotency-Key": key},
    )
    assert response.status_code == 422 and "Idempotency-Key" in response.json["messages"]
    assert _count(TrainingSession) == 0


def test_a_key_older_than_a_day_is_free_again(
    client, organizer_headers, session_payload, wards, competences
):
    headers = {**organizer_headers, "Idempotency-Key": "old-key"}
    first = client.post("/api/v1/sessions", json=session_payload(), headers=headers)
    assert first.status_code == 201
    db.session.execute(sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    again = client.post("/api/v1/sessions", json=session_payload(title="New"), headers=headers)
    assert again.status_code == 201 and _count(TrainingSession) == 2


def test_a_stored_answer_keeps_no_secret_in_clear(client, wards):
    """The answer to a sign-up with consent carries a private feed address; the table
    holds it sealed, and the key only as a digest."""
    body = {
        "full_name": "Phạm Văn Bình",
        "ward": "kim_lien",
        "target_group": "residents",
        "consent": True,
    }
    first = client.post("/api/v1/participants", json=body, headers={"Idempotency-Key": "k-123"})
    assert first.status_code == 201, first.json
    row = db.session.scalar(sa.select(IdempotencyKey))
    token = first.json["feed_url"].rsplit("/", 1)[-1].removesuffix(".ics")
    assert token.encode() not in row.body and b"k-123" not in row.key_digest.encode()
    again = client.post("/api/v1/participants", json=body, headers={"Idempotency-Key": "k-123"})
    assert again.json == first.json and _count(Participant) == 1


def _at_once(count: int, send):
    start = threading.Barrier(count)

    def one(_n):
        start.wait()
        return send()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.slow
def test_twenty_identical_posts_at_once_create_one_row_and_get_one_answer(
    app, organizer_headers, session_payload, wards, competences
):
    body = session_payload()
    headers = {**organizer_headers, "Idempotency-Key": "twenty-at-once"}
    db.session.commit()  # the test holds no transaction while the threads run

    def send():
        response = app.test_client().post("/api/v1/sessions", json=body, headers=headers)
        return response.status_code, response.get_json(), response.headers.get("Location")

    answers = _at_once(COPIES, send)
    assert answers.count(answers[0]) == COPIES, answers
    assert answers[0][0] == 201
    assert _count(TrainingSession) == 1 and _count(IdempotencyKey) == 1


@pytest.mark.slow
def test_twenty_identical_sign_ups_at_once_book_one_seat(app, make_session, make_volunteer):
    session = make_session()
    _volunteer_id, headers = make_volunteer()
    headers = {**headers, "Idempotency-Key": "sign-up-once"}
    db.session.commit()

    def send():
        response = app.test_client().post(
            f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
        )
        return response.status_code, response.get_json()

    answers = _at_once(COPIES, send)
    assert answers.count(answers[0]) == COPIES and answers[0][0] == 201, answers
    assert _count(Assignment) == 1


# -- page forms: one-time tokens --------------------------------------------------------

_FORM_TOKEN = re.compile(r'name="form_token" value="([0-9a-f]{32})"')


def _form(client, path: str) -> dict:
    page = text(client.get(path))
    match = _FORM_TOKEN.search(page)
    assert match, f"no form token on {path}"
    return {"csrf_token": csrf_token(client, path), "form_token": match.group(1)}


def _twice(client, path: str, form_page: str, data: dict):
    """Send one form twice (Back then Submit, a double tap): the same tokens both times."""
    tokens = _form(client, form_page)
    first = client.post(path, data={**data, **tokens})
    second = client.post(path, data={**data, **tokens})
    return first, second


def test_a_form_token_is_new_on_every_page(client, wards):
    assert _form(client, "/register")["form_token"] != _form(client, "/register")["form_token"]


def test_a_double_submitted_registration_creates_one_volunteer(client, wards):
    first, second = _twice(
        client,
        "/register",
        "/register",
        {
            "full_name": "Lê Văn Hùng",
            "email": "hung@example.vn",
            "password": "mat-khau-dai-1",
            "home_ward": "kim_lien",
            "consent": "y",
        },
    )
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"] == "/me/profile"
    assert _count(Volunteer) == 1


def test_a_double_submitted_session_form_creates_one_session(client, make_user, wards, competences):
    log_in(client, make_user("organizer").email)
    starts = (tuesday_evening() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "title": "Dịch vụ công trực tuyến",
        "venue": "Nhà văn hóa tổ 3",
        "starts_at": starts,
        "duration_minutes": "90",
        "capacity": "20",
        "ward": "kim_lien",
        "competence_area": "1",
        "target_group": "residents",
        "leads": "1",
        "helpers": "2",
        "interpreters": "0",
        "weekly_count": "1",
    }
    first, second = _twice(client, "/organize/sessions/new", "/organize/sessions/new", data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(TrainingSession) == 1

    # Back, change the form, send it with the same token: refused, nothing created.
    tokens = _form(client, "/organize/sessions/new")
    assert client.post("/organize/sessions/new", data={**data, **tokens}).status_code == 302
    changed = client.post("/organize/sessions/new", data={**data, **tokens, "capacity": "30"})
    assert changed.status_code == 422 and "Biểu mẫu này đã được gửi" in text(changed)
    assert _count(TrainingSession) == 2


def test_a_failed_form_keeps_its_token_usable(client, make_user, wards, competences):
    """A form sent back with errors stored nothing: the corrected copy goes through."""
    log_in(client, make_user("organizer").email)
    starts = (tuesday_evening() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "title": "",
        "venue": "Nhà văn hóa",
        "starts_at": starts,
        "duration_minutes": "90",
        "capacity": "20",
        "ward": "kim_lien",
        "competence_area": "1",
        "target_group": "residents",
        "leads": "1",
        "helpers": "1",
        "interpreters": "0",
        "weekly_count": "1",
    }
    tokens = _form(client, "/organize/sessions/new")
    assert client.post("/organize/sessions/new", data={**data, **tokens}).status_code == 422
    fixed = client.post("/organize/sessions/new", data={**data, **tokens, "title": "Zalo"})
    assert fixed.status_code == 302 and _count(TrainingSession) == 1


def test_a_double_submitted_sign_up_books_once(client, make_session, make_volunteer):
    from coordinator.people.models import User

    session = session_payload_at_tuesday(make_session)
    volunteer_id, _headers = make_volunteer(is_expert=True)
    user = db.session.get(User, db.session.get(Volunteer, volunteer_id).user_id)
    log_in(client, user.email)
    first, second = _twice(
        client, f"/me/sessions/{session['id']}/signup", "/me/fits", {"role": "helper"}
    )
    assert first.status_code == second.status_code == 302
    assert _count(Assignment) == 1


def session_payload_at_tuesday(make_session) -> dict:
    from tests.matching.test_runs import session_at

    return session_at(make_session, tuesday_evening())


def test_a_double_submitted_participant_registration_registers_once(client, make_session):
    session = make_session()
    path = f"/sessions/{session['id']}/register"
    data = {
        "full_name": "Nguyễn Văn An",
        "ward": "kim_lien",
        "target_group": "residents",
        "contact": "0912345678",
        "consent": "y",
    }
    first, second = _twice(client, path, path, data)
    # The answer is a page that shows the private calendar link once; the copy shows it
    # again rather than a second registration (or a refusal that loses the link).
    assert first.status_code == 200 and "/calendar/p/" in text(first)
    assert second.status_code == 200 and text(second) == text(first)
    assert _count(Registration) == 1 and _count(Participant) == 1


def test_a_registration_sent_again_from_a_page_fetched_anew_asks_before_a_namesake(
    client, make_session
):
    """Back on a page the browser fetches again gives a new one-time token: with no
    contact to tell two people apart, the same name is refused with a box to tick, and
    everything typed comes back; ticked, a real namesake is registered."""
    session = make_session()
    path = f"/sessions/{session['id']}/register"
    data = {"full_name": "Trần Thị Bình", "ward": "kim_lien", "target_group": "residents"}
    data["consent"] = "y"
    first = client.post(path, data={**data, **_form(client, path)})
    assert first.status_code == 200 and "/calendar/p/" in text(first)

    again = client.post(path, data={**data, **_form(client, path)})  # a new token
    page = text(again)
    assert again.status_code == 422
    assert "Trần Thị Bình" in page and 'name="another_person"' in page
    assert "không kèm số điện thoại hay email" in page  # the page's language (vi)
    assert _count(Registration) == 1

    ticked = client.post(path, data={**data, "another_person": "y", **_form(client, path)})
    assert ticked.status_code == 200 and "/calendar/p/" in text(ticked)
    assert _count(Registration) == 2

    # A contact tells people apart: no question then (the contact rule has its own check).
    other = {**data, "full_name": "Trần Thị Bình", "contact": "0912345679"}
    assert client.post(path, data={**other, **_form(client, path)}).status_code == 200
    assert _count(Registration) == 3
