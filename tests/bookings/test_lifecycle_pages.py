"""The booking life on the pages: a held seat shows its deadline, a fully held session
offers the waitlist (never a sign-up button that silently waitlists), and an organizer
cancels one session or the rest of its series."""

from __future__ import annotations

import pytest

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import log_in, submit, text

ONE_HELPER = [{"role": "helper", "count": 1, "required_skills": []}]


@pytest.fixture
def volunteer_page(client, make_volunteer):
    """A logged-in volunteer, free Tuesday evenings in Kim Liên."""
    volunteer_id, _ = make_volunteer(availability=EVENING)
    log_in(client, db.session.get(Volunteer, volunteer_id).email)
    return volunteer_id


def propose(client, session_id, volunteer_id, headers):
    response = client.post(
        f"/api/v1/sessions/{session_id}/assignments",
        json={"role": "helper", "volunteer_id": volunteer_id, "propose": True},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    return response.json["assignments"][0]


def test_a_fully_held_session_offers_the_waitlist_not_a_sign_up(
    client, volunteer_page, make_session, make_volunteer, organizer_headers
):
    session = session_at(make_session, tuesday_evening(), roles=ONE_HELPER)
    other, _ = make_volunteer()
    propose(client, session["id"], other, organizer_headers)

    page = text(client.get("/me/fits"))

    assert f"/sessions/{session['id']}" in page
    assert "Vào danh sách chờ" in page and "chờ trả lời đến" in page
    assert ">Đăng ký<" not in page.replace("\n", "").replace("  ", "")


def test_my_schedule_shows_a_held_seat_with_its_deadline(
    client, volunteer_page, make_session, organizer_headers
):
    session = session_at(make_session, tuesday_evening(), roles=ONE_HELPER)
    propose(client, session["id"], volunteer_page, organizer_headers)

    page = text(client.get("/me/schedule"))

    assert "Chỗ của bạn đang được giữ, đang chờ trả lời đến" in page


def test_an_organizer_cancels_the_rest_of_a_series_from_its_page(client, make_user, make_session):
    body = make_session(repeat={"weekly": 3})
    first, second, third = body["series_session_ids"]
    log_in(client, make_user("organizer").email)
    page = f"/organize/sessions/{second}/cancel"
    assert "Buổi này và các buổi sau trong chuỗi hằng tuần" in text(client.get(page))

    response = submit(
        client,
        f"/organize/sessions/{second}/cancel",
        {"reason": "Hết kinh phí", "scope": "rest_of_series"},
        form_page=page,
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert [db.session.get(TrainingSession, i).status for i in (first, second, third)] == [
        "published",
        "cancelled",
        "cancelled",
    ]
