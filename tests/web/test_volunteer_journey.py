"""The volunteer's schedule names the crew (lead, teammates) and the support participants
need, for a confirmed booking only; withdrawing takes a confirmation step that says what
happens (the seat goes to the waitlist, a late withdrawal is flagged)."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import log_in, submit, text


def sign_up(client, session_id: int, role: str, headers) -> int:
    signed = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )
    assert signed.status_code == 201, signed.json
    return signed.json["id"]


def test_the_schedule_names_the_crew_and_the_needs(client, make_session, make_volunteer):
    session = session_at(
        make_session,
        tuesday_evening(),
        roles=[{"role": "lead", "count": 1}, {"role": "helper", "count": 2}],
        participant_needs=["low_vision"],
    )
    lead, lead_headers = make_volunteer(
        full_name="Nguyễn Thị Lan", is_expert=True, availability=EVENING
    )
    mate, mate_headers = make_volunteer(full_name="Trần Văn Minh", availability=EVENING)
    me, me_headers = make_volunteer(full_name="Lê Thu Hà", availability=EVENING)
    sign_up(client, session["id"], "lead", lead_headers)
    sign_up(client, session["id"], "helper", mate_headers)
    sign_up(client, session["id"], "helper", me_headers)
    log_in(client, db.session.get(Volunteer, me).email)

    page = text(client.get("/me/schedule"))
    assert "Nguyễn Thị Lan" in page  # the lead
    assert "Trần Văn Minh (Hỗ trợ)" in page  # a teammate with the role in words
    assert "Lê Thu Hà" not in page.split("<main", 1)[1].split("Đồng đội", 1)[1].split("</dd>")[0]
    assert "low_vision" not in page and "Hỗ trợ người nhìn kém" in page


def test_withdrawing_asks_first_and_says_what_happens(client, make_session, make_volunteer):
    session = session_at(make_session, tuesday_evening(), roles=[{"role": "helper", "count": 1}])
    me, me_headers = make_volunteer(availability=EVENING)
    other, other_headers = make_volunteer(availability=EVENING)
    booking = sign_up(client, session["id"], "helper", me_headers)
    waiting = sign_up(client, session["id"], "helper", other_headers)
    log_in(client, db.session.get(Volunteer, me).email)

    schedule = text(client.get("/me/schedule"))
    # No one-tap withdrawal: a link to the confirmation page.
    assert f'href="/me/bookings/{booking}/withdraw"' in schedule
    assert f'action="/me/bookings/{booking}/withdraw"' not in schedule

    confirm = client.get(f"/me/bookings/{booking}/withdraw")
    assert confirm.status_code == 200
    page = text(confirm)
    assert "Bạn rút khỏi" in page and "1 người trong danh sách chờ" in page
    assert "Không, giữ chỗ của tôi" in page
    db.session.rollback()
    assert db.session.get(Assignment, booking).status == "confirmed"  # looking changes nothing

    done = submit(
        client,
        f"/me/bookings/{booking}/withdraw",
        {"reason": "Ốm"},
        form_page=f"/me/bookings/{booking}/withdraw",
    )
    assert done.status_code == 302
    db.session.rollback()
    assert db.session.get(Assignment, booking).status == "withdrawn"
    assert db.session.get(Assignment, waiting).status == "confirmed"
    # An ended booking has no confirmation page any more.
    again = client.get(f"/me/bookings/{booking}/withdraw")
    assert again.status_code == 302


def test_a_late_withdrawal_is_announced(client, app, make_session, make_volunteer):
    app.config["LATE_WITHDRAWAL_HOURS"] = 24 * 30  # every coming session is "soon"
    session = session_at(make_session, tuesday_evening())
    me, me_headers = make_volunteer(availability=EVENING)
    booking = sign_up(client, session["id"], "helper", me_headers)
    log_in(client, db.session.get(Volunteer, me).email)
    page = text(client.get(f"/me/bookings/{booking}/withdraw"))
    assert "rút lui muộn" in page


def test_someone_elses_booking_has_no_confirmation_page(client, make_session, make_volunteer):
    session = session_at(make_session, tuesday_evening())
    _me, _ = make_volunteer(availability=EVENING)
    other, other_headers = make_volunteer(availability=EVENING)
    booking = sign_up(client, session["id"], "helper", other_headers)
    log_in(client, db.session.get(Volunteer, _me).email)
    assert client.get(f"/me/bookings/{booking}/withdraw").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == 1
