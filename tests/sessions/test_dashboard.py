"""The organizer's dashboard answers "what needs me now": three states per role
(confirmed, awaiting a reply, empty), "Đủ người" only when every seat is confirmed,
sessions by urgency and a summary strip, both over the organizer's whole list."""

from __future__ import annotations

import re
from datetime import timedelta

from coordinator.database import utcnow
from coordinator.sessions.dashboard import RoleState, role_state
from tests.matching.test_runs import session_at
from tests.page_helpers import log_in, text


def role(name="helper", needed=2, confirmed=0, proposed=0):
    return {"role": name, "needed": needed, "confirmed": confirmed, "proposed": proposed}


def test_three_states_per_role():
    assert role_state(role(confirmed=2)) == RoleState.CONFIRMED
    assert role_state(role(confirmed=1, proposed=1)) == RoleState.AWAITING
    assert role_state(role(proposed=2)) == RoleState.AWAITING
    assert role_state(role(confirmed=1)) == RoleState.EMPTY
    assert role_state(role(needed=0)) == RoleState.CONFIRMED


HELPERS = [{"role": "helper", "count": 2, "required_skills": []}]
LEAD = [{"role": "lead", "count": 1, "required_skills": []}]


def book(client, organizer_headers, session: dict, volunteers: list[int], propose=False):
    for volunteer_id in volunteers:
        response = client.post(
            f"/api/v1/sessions/{session['id']}/assignments",
            json={
                "role": session["roles"][0]["role"],
                "volunteer_id": volunteer_id,
                "propose": propose,
                "override": True,
            },
            headers=organizer_headers,
        )
        assert response.status_code == 201, response.json


def titles(page) -> list[str]:
    """The session cards' titles, in order."""
    cards = page.split('class="cards session-cards"', 1)[1]
    return re.findall(r'<h3><a href="/organize/sessions/\d+">([^<]+)</a></h3>', cards)


def strip(page) -> list[str]:
    summary = page.split('<ul class="summary"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<strong>(\d+)</strong>", summary)


def test_the_urgency_order_and_the_strip_cover_every_page(
    client, make_user, make_session, make_volunteer, organizer_headers
):
    """Five sessions two a page: page 2 and 3 continue page 1's order, and every page's
    strip counts all five (on SQLite and PostgreSQL alike)."""
    now = utcnow().replace(microsecond=0)

    def at(days: float, title: str, roles) -> dict:
        return session_at(make_session, now + timedelta(days=days), title=title, roles=roles)

    volunteers = [make_volunteer()[0] for _ in range(5)]
    at(20, "Trống, còn xa", HELPERS)
    book(client, organizer_headers, at(1, "Đủ người, ngày mai", HELPERS), volunteers[:2])
    waiting = at(5, "Chờ trả lời, tuần này", HELPERS)
    book(client, organizer_headers, waiting, volunteers[2:4], propose=True)
    at(6, "Thiếu giảng viên, tuần này", LEAD)
    book(client, organizer_headers, at(2, "Trống, hai ngày nữa", HELPERS), volunteers[4:])
    organizer = make_user("organizer")
    log_in(client, organizer.email)

    pages = [text(client.get(f"/organize/?limit=2&offset={offset}")) for offset in (0, 2, 4)]
    assert [title for page in pages for title in titles(page)] == [
        "Trống, hai ngày nữa",
        "Thiếu giảng viên, tuần này",
        "Chờ trả lời, tuần này",
        "Trống, còn xa",
        "Đủ người, ngày mai",
    ]
    # 1 without a confirmed lead this week, 2 with empty seats this week, 2 seats awaiting
    # a reply, 1 fully confirmed: the same on every page.
    assert [strip(page) for page in pages] == [["1", "2", "2", "1"]] * 3
    past_the_end = text(client.get("/organize/?limit=2&offset=10"))
    assert strip(past_the_end) == ["1", "2", "2", "1"]


def test_the_page_shows_states_in_words(
    client, make_user, make_session, make_volunteer, organizer_headers
):
    organizer = make_user("organizer")
    proposed = make_session(title="Buổi đang chờ trả lời", roles=[{"role": "helper", "count": 1}])
    volunteer, _headers = make_volunteer()
    held = client.post(
        f"/api/v1/sessions/{proposed['id']}/assignments",
        json={"role": "helper", "volunteer_id": volunteer, "propose": True, "override": True},
        headers=organizer_headers,
    )
    make_session(title="Buổi còn trống")
    log_in(client, organizer.email)
    page = text(client.get("/organize/"))
    assert "Buổi còn trống" in page and "còn trống 3" in page
    assert "buổi trong 7 ngày tới còn thiếu giảng viên chính" in page
    assert "<table" not in page.split("<main", 1)[1]  # cards, which fit a phone
    assert held.status_code == 201, held.json
    card = page.split("Buổi đang chờ trả lời", 1)[1].split("</ul>", 1)[0]
    assert "Đủ người" not in card and "1 đang chờ trả lời" in card
