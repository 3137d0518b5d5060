"""The organizer's dashboard answers "what needs me now": three states per role
(confirmed, awaiting a reply, empty), "Đủ người" only when every seat is confirmed,
sessions by urgency and a summary strip."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from coordinator.database import utcnow
from coordinator.sessions.dashboard import RoleState, by_urgency, needs_of, role_state, summary
from tests.page_helpers import log_in, text


def role(name="helper", needed=2, confirmed=0, proposed=0):
    return {"role": name, "needed": needed, "confirmed": confirmed, "proposed": proposed}


def session(days: float, id_: int = 1):
    return SimpleNamespace(id=id_, starts_at=utcnow() + timedelta(days=days))


def test_three_states_per_role():
    assert role_state(role(confirmed=2)) == RoleState.CONFIRMED
    assert role_state(role(confirmed=1, proposed=1)) == RoleState.AWAITING
    assert role_state(role(proposed=2)) == RoleState.AWAITING
    assert role_state(role(confirmed=1)) == RoleState.EMPTY
    assert role_state(role(needed=0)) == RoleState.CONFIRMED


def test_staffed_only_when_every_seat_is_confirmed():
    now = utcnow()
    held = needs_of(session(2), [role(proposed=2)], now)
    assert not held.staffed and held.empty == 0 and held.awaiting == 2
    done = needs_of(session(2), [role(confirmed=2), role("lead", 1, 1)], now)
    assert done.staffed and not done.lead_missing


def test_urgency_order_and_summary():
    now = utcnow()
    rows = [
        needs_of(session(20, 1), [role()], now),  # empty, later
        needs_of(session(1, 2), [role(confirmed=2)], now),  # staffed, tomorrow
        needs_of(session(5, 3), [role(proposed=2)], now),  # awaiting, this week
        needs_of(session(6, 4), [role("lead", 1)], now),  # empty lead, this week
        needs_of(session(2, 5), [role(confirmed=1)], now),  # empty, in two days
    ]
    assert [r.session.id for r in by_urgency(rows)] == [5, 4, 3, 1, 2]
    strip = summary(rows, now)
    assert strip.lead_missing_this_week == 1
    assert strip.empty_this_week == 2
    assert strip.awaiting == 2 and strip.staffed == 1


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
