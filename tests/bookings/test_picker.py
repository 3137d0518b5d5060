"""The organizer's assignment picker: eligible people first (free then, no clash, experts
first), those outside their availability next, those who cannot be booked last and not
selectable; searchable by name or ward."""

from __future__ import annotations

from coordinator.bookings.picker import candidates
from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import log_in, text

MORNING = [{"weekday": 5, "start": "08:00", "end": "12:00"}]


def test_eligible_people_come_first(client, make_session, make_volunteer, make_user):
    session = session_at(make_session, tuesday_evening(), roles=[{"role": "helper", "count": 3}])
    elsewhere = session_at(make_session, tuesday_evening(), title="Cùng giờ, nơi khác")
    outside, _ = make_volunteer(full_name="Vũ Ngoài Giờ", availability=MORNING)
    helper, _ = make_volunteer(full_name="An Rảnh", availability=EVENING)
    expert, _ = make_volunteer(full_name="Yến Chuyên Gia", is_expert=True, availability=EVENING)
    busy, busy_headers = make_volunteer(full_name="Bình Bận", availability=EVENING)
    booked = client.post(
        f"/api/v1/sessions/{elsewhere['id']}/signups", json={"role": "helper"}, headers=busy_headers
    )
    assert booked.status_code == 201, booked.json

    found = candidates(db.session.get(TrainingSession, session["id"]))
    mine = [c for c in found if c.volunteer.id in (outside, helper, expert, busy)]
    assert [(c.volunteer.id, c.group) for c in mine] == [
        (expert, "eligible"),
        (helper, "eligible"),
        (outside, "outside"),
        (busy, "blocked"),
    ]

    log_in(client, make_user("organizer").email)
    page = text(client.get(f"/organize/sessions/{session['id']}"))
    assert 'id="volunteer-search"' in page and 'type="search"' in page
    assert page.index("Yến Chuyên Gia") < page.index("An Rảnh") < page.index("Vũ Ngoài Giờ")
    assert f'<option value="{busy}" disabled>Bình Bận' in page
    assert "trùng lịch" in page


def test_the_session_pages_bookings_and_audit_a_page_at_a_time(
    client, make_session, make_volunteer, make_user
):
    session = session_at(make_session, tuesday_evening(), roles=[{"role": "helper", "count": 3}])
    for name in ("An Một", "Bình Hai"):
        _id, headers = make_volunteer(full_name=name, availability=EVENING)
        signed = client.post(
            f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
        )
        assert signed.status_code == 201, signed.json
    log_in(client, make_user("organizer").email)
    url = f"/organize/sessions/{session['id']}"
    whole = client.get(url).get_data(as_text=True)
    assert "bookings_offset=" not in whole and "audit_offset=" not in whole
    first = client.get(f"{url}?bookings_limit=1&audit_limit=1").get_data(as_text=True)
    assert "bookings_offset=1" in first and "audit_offset=1" in first
    assert first.count("<code>") == 1  # one audit entry
    second = client.get(f"{url}?bookings_limit=1&bookings_offset=1").get_data(as_text=True)
    assert "bookings_offset=0" in second and "bookings_offset=2" not in second
