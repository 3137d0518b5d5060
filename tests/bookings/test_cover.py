"""Cover requests ("Tìm người thay"): a confirmed volunteer's seat is offered to the best
few eligible volunteers by the matcher's rules; the first to accept takes it in one
transaction (exactly one of ten simultaneous accepts, on SQLite and PostgreSQL alike);
the request can be withdrawn; nobody by the deadline alerts the organizer once (a real
RQ worker with the test's clock, run twice)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import (
    LIVE_ASSIGNMENT,
    Assignment,
    CoverOffer,
    CoverRequest,
)
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import SessionRole
from jobs.bookings import lapse_cover_request
from tests.notifications.notification_helpers import (
    body_text,
    in_one_language,
    notifications,
    visit,
    work,
)

ONE_HELPER = [{"role": "helper", "count": 1, "required_skills": []}]


def sign_up(client, session_id, headers, role="helper"):
    response = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def ask_cover(client, assignment_id, headers):
    return client.post(f"/api/v1/assignments/{assignment_id}/cover", headers=headers)


def events(event_type: str) -> list[DomainEvent]:
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(DomainEvent).where(DomainEvent.type == event_type)))
    db.session.commit()
    return rows


def offered_volunteers(request_id: int) -> list[int]:
    db.session.expire_all()
    found = list(
        db.session.scalars(
            sa.select(CoverOffer.volunteer_id)
            .where(CoverOffer.cover_request_id == request_id)
            .order_by(CoverOffer.rank)
        )
    )
    db.session.commit()
    return found


@pytest.fixture
def booked(client, make_session, make_volunteer, clock):
    """A session a week away whose only helper seat a volunteer holds, confirmed."""
    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    booking = sign_up(client, session["id"], headers)
    assert booking["status"] == "confirmed"
    return {"session": session, "booking": booking, "headers": headers, "volunteer": volunteer_id}


def test_the_seat_is_offered_to_the_eligible_only_best_fit_first(
    app, client, booked, make_session, make_volunteer, redis_client, smtp
):
    near_id, _ = make_volunteer(home_ward="kim_lien")
    neighbour_id, _ = make_volunteer(home_ward="phuong_mai")
    # Never offered: too far, busy that evening, free only on Mondays, a full week, already
    # booked in the session (waitlisted), the volunteer who asks.
    far_id, _ = make_volunteer(home_ward="van_mieu_quoc_tu_giam")
    busy_id, busy_headers = make_volunteer()
    other = make_session(title="Khác", roles=ONE_HELPER, ward="kim_lien")
    sign_up(client, other["id"], busy_headers)
    monday_id, _ = make_volunteer(availability=[{"weekday": 0, "start": "08:00", "end": "20:00"}])
    full_id, full_headers = make_volunteer(max_sessions_per_week=1)
    starts = booked["session"]["starts_at"]
    day_before = make_session(
        title="Hôm trước",
        roles=ONE_HELPER,
        starts_at=(_parse(starts) - timedelta(hours=3)).isoformat(),
        ends_at=(_parse(starts) - timedelta(hours=2)).isoformat(),
    )
    sign_up(client, day_before["id"], full_headers)
    waiting_id, waiting_headers = make_volunteer()
    assert sign_up(client, booked["session"]["id"], waiting_headers)["status"] == "waitlisted"

    response = ask_cover(client, booked["booking"]["id"], booked["headers"])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "open" and body["assignment_id"] == booked["booking"]["id"]
    offered = offered_volunteers(body["id"])
    assert offered == [near_id, neighbour_id]  # the same ward before a neighbour's
    assert not {far_id, busy_id, monday_id, full_id, waiting_id, booked["volunteer"]} & set(offered)
    assert [o["rank"] for o in body["offers"]] == [1, 2]
    # The volunteer stays booked until someone accepts; a second request is a 409.
    assert _status(booked["booking"]["id"]) == "confirmed"
    again = ask_cover(client, booked["booking"]["id"], booked["headers"])
    assert again.status_code == 409 and again.json["error"] == "cover_requested"

    work(redis_client)
    asked = notifications(kind="cover_offer")
    assert sorted(n.recipient_id for n in asked) == sorted(offered)
    assert {n.status for n in asked} == {"sent"}
    email = _email(near_id)
    [message] = [m for m in smtp.to(email) if "thay" in m["Subject"]]
    assert "người nhận đầu tiên" in body_text(message).lower()


def test_a_sign_language_seat_goes_only_to_signers(client, make_session, make_volunteer, clock):
    session = make_session(
        roles=[{"role": "interpreter", "count": 1, "required_skills": []}],
        participant_needs=["sign_language"],
    )
    signer_id, signer_headers = make_volunteer(accessibility_skills=["sign_language"])
    booking = sign_up(client, session["id"], signer_headers, role="interpreter")
    other_signer, _ = make_volunteer(accessibility_skills=["sign_language"])
    make_volunteer()  # free, near, skilled: but does not sign
    response = ask_cover(client, booking["id"], signer_headers)
    assert response.status_code == 201, response.json
    assert offered_volunteers(response.json["id"]) == [other_signer]


def test_nobody_eligible_is_a_409(client, booked):
    response = ask_cover(client, booked["booking"]["id"], booked["headers"])
    assert response.status_code == 409 and response.json["error"] == "no_cover_candidates"
    assert db.session.scalar(sa.select(sa.func.count(CoverRequest.id))) == 0


def test_the_first_to_accept_takes_the_seat_and_the_other_links_say_so(
    client, booked, make_volunteer, redis_client, smtp
):
    first_id, first_headers = make_volunteer()
    second_id, second_headers = make_volunteer()
    request = ask_cover(client, booked["booking"]["id"], booked["headers"]).json
    work(redis_client)
    offers = {o["id"]: o for o in request["offers"]}
    by_volunteer = _offers_by_volunteer(request["id"])

    accepted = client.post(
        f"/api/v1/cover-offers/{by_volunteer[first_id]}/accept", headers=first_headers
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "confirmed" and accepted.json["volunteer_id"] == first_id
    assert _status(booked["booking"]["id"]) == "covered"
    role = db.session.scalar(
        sa.select(SessionRole).where(SessionRole.session_id == booked["session"]["id"])
    )
    assert (role.taken, role.count) == (1, 1)
    db.session.commit()
    assert len(offers) == 2

    late = client.post(
        f"/api/v1/cover-offers/{by_volunteer[second_id]}/accept", headers=second_headers
    )
    assert late.status_code == 409 and late.json["error"] == "cover_taken"
    # The other volunteer's link now says the seat is taken, with no button.
    link = _accept_link(_email(second_id), smtp)
    page = visit(client, link)
    assert page.status_code == 410 and "Đã có người nhận thay" in in_one_language(page, "vi")
    assert "<form" not in page.text.split("<main", 1)[-1]
    english = in_one_language(visit(client, link, english=True), "en")
    assert "Someone else has already taken this seat." in english
    # Someone else's offer is a 404, as a missing one.
    stranger = client.post(
        f"/api/v1/cover-offers/{by_volunteer[second_id]}/accept", headers=booked["headers"]
    )
    assert stranger.status_code == 404
    # The volunteer who asked is told; the events went through the outbox.
    work(redis_client)
    assert [e.payload["assignment_id"] for e in events("assignment.covered")] == [
        booked["booking"]["id"]
    ]
    assert notifications(kind="cover_found", recipient_id=booked["volunteer"])
    # ... and the one who took the seat gets the confirmation that starts their reminders.
    assert notifications(kind="booking_confirmed", recipient_id=first_id)


def test_accepting_from_the_link(client, booked, make_volunteer, redis_client, smtp):
    taker_id, _ = make_volunteer()
    ask_cover(client, booked["booking"]["id"], booked["headers"])
    work(redis_client)
    link = _accept_link(_email(taker_id), smtp)
    session = (booked["session"]["title"], booked["session"]["venue"])
    page = visit(client, link)
    assert page.status_code == 200 and "Nhận thay" in in_one_language(page, "vi", *session)
    english = in_one_language(visit(client, link, english=True), "en", *session)
    assert "Take this seat as cover?" in english and "Take the seat" in english
    done = visit(client, link, english=True, post=True)
    assert done.status_code == 200
    assert "Thank you! The seat is yours." in in_one_language(done, "en")
    assert _status(booked["booking"]["id"]) == "covered"
    live = db.session.scalars(
        sa.select(Assignment.volunteer_id).where(
            Assignment.session_id == booked["session"]["id"],
            Assignment.status.in_(LIVE_ASSIGNMENT),
        )
    ).all()
    assert live == [taker_id]
    db.session.commit()
    assert client.post(link).status_code == 410  # once


def test_withdrawing_the_request_keeps_the_booking_and_voids_the_offers(
    client, booked, make_volunteer, redis_client, smtp
):
    taker_id, taker_headers = make_volunteer()
    request = ask_cover(client, booked["booking"]["id"], booked["headers"]).json
    work(redis_client)
    withdrawn = client.delete(
        f"/api/v1/assignments/{booked['booking']['id']}/cover", headers=booked["headers"]
    )
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["status"] == "withdrawn"
    assert {o["status"] for o in withdrawn.json["offers"]} == {"voided"}
    assert _status(booked["booking"]["id"]) == "confirmed"
    (offer_id,) = _offers_by_volunteer(request["id"]).values()
    refused = client.post(f"/api/v1/cover-offers/{offer_id}/accept", headers=taker_headers)
    assert refused.status_code == 409 and refused.json["error"] == "cover_withdrawn"
    page = client.get(_accept_link(_email(taker_id), smtp))
    assert page.status_code == 410
    again = client.delete(
        f"/api/v1/assignments/{booked['booking']['id']}/cover", headers=booked["headers"]
    )
    assert again.status_code == 404
    # A new request may follow.
    assert ask_cover(client, booked["booking"]["id"], booked["headers"]).status_code == 201


def test_nobody_by_the_deadline_alerts_the_organizer_once(
    client, booked, make_volunteer, redis_client, smtp, clock
):
    taker_id, _ = make_volunteer()
    request = ask_cover(client, booked["booking"]["id"], booked["headers"]).json
    work(redis_client)
    assert not notifications(kind="cover_unfilled")
    link = _accept_link(_email(taker_id), smtp)

    deadline = _parse(booked["session"]["starts_at"]) - timedelta(hours=24)
    clock.set(deadline + timedelta(seconds=1))
    work(redis_client)
    assert lapse_cover_request(request["id"]) == "already lapsed"  # a second run
    work(redis_client)

    assert len(events("cover.lapsed")) == 1
    [alert] = notifications(kind="cover_unfilled")
    assert alert.status == "sent"
    assert _status(booked["booking"]["id"]) == "confirmed"  # still booked
    offer_ids = _offers_by_volunteer(request["id"]).values()
    assert {db.session.get(CoverOffer, i).status for i in offer_ids} == {"voided"}
    db.session.commit()
    # The offer's link says the time to take the seat has passed, in one language.
    page = visit(client, link)
    assert page.status_code == 410 and "Đã quá hạn nhận thay" in in_one_language(page, "vi")
    english = in_one_language(visit(client, link, english=True), "en")
    assert "The time to take this seat has passed." in english


def test_a_request_after_the_deadline_is_a_409(client, booked, make_volunteer, clock):
    make_volunteer()
    clock.set(_parse(booked["session"]["starts_at"]) - timedelta(hours=23))
    response = ask_cover(client, booked["booking"]["id"], booked["headers"])
    assert response.status_code == 409 and response.json["error"] == "cover_too_late"


def test_withdrawing_the_booking_closes_its_request(client, booked, make_volunteer):
    taker_id, taker_headers = make_volunteer()
    request = ask_cover(client, booked["booking"]["id"], booked["headers"]).json
    client.delete(f"/api/v1/signups/{booked['booking']['id']}", headers=booked["headers"])
    (offer_id,) = _offers_by_volunteer(request["id"]).values()
    refused = client.post(f"/api/v1/cover-offers/{offer_id}/accept", headers=taker_headers)
    assert refused.status_code == 409 and refused.json["error"] == "cover_closed"
    row = db.session.get(CoverRequest, request["id"])
    assert row.status == "closed"
    db.session.commit()


def test_only_a_confirmed_booking_is_covered_and_only_by_its_volunteer(
    client, booked, make_volunteer
):
    make_volunteer()
    _, stranger = make_volunteer()
    assert ask_cover(client, booked["booking"]["id"], stranger).status_code == 404
    client.delete(f"/api/v1/signups/{booked['booking']['id']}", headers=booked["headers"])
    response = ask_cover(client, booked["booking"]["id"], booked["headers"])
    assert response.status_code == 409 and response.json["error"] == "not_confirmed"


def test_ten_simultaneous_accepts_one_takes_the_seat(app, client, booked, make_volunteer):
    """Ten eligible volunteers accept at the same moment, each with its own connection:
    exactly one takes the seat, nine get 409 cover_taken (SQLite and PostgreSQL)."""
    app.config["COVER_OFFER_COUNT"] = 10
    takers = [make_volunteer() for _ in range(10)]
    request = ask_cover(client, booked["booking"]["id"], booked["headers"]).json
    by_volunteer = _offers_by_volunteer(request["id"])
    assert set(by_volunteer) == {volunteer_id for volunteer_id, _ in takers}
    db.session.commit()
    db.session.remove()  # the test holds no transaction while the threads run
    start = threading.Barrier(len(takers))

    def accept(taker):
        volunteer_id, headers = taker
        own = app.test_client()
        start.wait()
        response = own.post(
            f"/api/v1/cover-offers/{by_volunteer[volunteer_id]}/accept", headers=headers
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=len(takers)) as pool:
        results = list(pool.map(accept, takers))

    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * 9, results
    assert {body["error"] for code, body in results if code == 409} == {"cover_taken"}
    db.session.expire_all()
    live = db.session.scalars(
        sa.select(Assignment).where(
            Assignment.session_id == booked["session"]["id"],
            Assignment.status.in_(LIVE_ASSIGNMENT),
        )
    ).all()
    [winner] = [body for code, body in results if code == 200]
    assert [(a.id, a.volunteer_id) for a in live] == [(winner["id"], winner["volunteer_id"])]
    role = db.session.scalar(
        sa.select(SessionRole).where(SessionRole.session_id == booked["session"]["id"])
    )
    assert role.taken == 1
    assert db.session.get(Assignment, booked["booking"]["id"]).status == "covered"
    request_row = db.session.get(CoverRequest, request["id"])
    assert (request_row.status, request_row.covered_by_id) == ("taken", winner["id"])
    statuses = sorted(
        db.session.scalars(
            sa.select(CoverOffer.status).where(CoverOffer.cover_request_id == request["id"])
        )
    )
    assert statuses == ["accepted"] + ["voided"] * 9
    db.session.commit()


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def _status(assignment_id: int) -> str:
    db.session.expire_all()
    status = db.session.get(Assignment, assignment_id).status
    db.session.commit()
    return status


def _email(volunteer_id: int) -> str:
    email = db.session.get(Volunteer, volunteer_id).email
    db.session.commit()
    return email


def _offers_by_volunteer(request_id: int) -> dict[int, int]:
    found = dict(
        db.session.execute(
            sa.select(CoverOffer.volunteer_id, CoverOffer.id).where(
                CoverOffer.cover_request_id == request_id
            )
        ).all()
    )
    db.session.commit()
    return found


def _accept_link(email: str, smtp) -> str:
    [message] = [m for m in smtp.to(email) if "thay" in m["Subject"]]
    url = re.search(r"https?://\S+/notifications/answer/\S+/accept", body_text(message)).group(0)
    return url.split("//", 1)[1].split("/", 1)[1].join(["/", ""])


# Pages


def test_find_cover_from_my_schedule_with_a_confirmation_step(client, make_session, make_volunteer):
    from tests.page_helpers import log_in, submit, text

    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    booking = sign_up(client, session["id"], headers)
    taker_id, _ = make_volunteer()
    log_in(client, _email(volunteer_id))

    schedule = text(client.get("/me/schedule"))
    cover_page = f"/me/bookings/{booking['id']}/cover"
    assert "Tìm người thay" in schedule and cover_page in schedule
    confirm = text(client.get(cover_page))  # the confirmation step asks nothing yet
    assert "Đồng ý, tìm người thay tôi" in confirm
    assert db.session.scalar(sa.select(sa.func.count(CoverRequest.id))) == 0
    db.session.commit()

    done = submit(client, cover_page, {}, follow_redirects=True)
    assert done.status_code == 200 and "Đã mời 1 tình nguyện viên" in text(done)
    assert "Đang tìm người thay" in text(done) and _status(booking["id"]) == "confirmed"

    withdraw = f"/me/bookings/{booking['id']}/cover/withdraw"
    back = submit(client, withdraw, {}, form_page="/me/schedule", follow_redirects=True)
    assert "Đã hủy yêu cầu" in text(back) and cover_page in text(back)

    # The volunteer asked sees the seat on their schedule and takes it there.
    submit(client, cover_page, {})
    client.post("/logout", data={"csrf_token": _token(client, "/me/schedule")})
    log_in(client, _email(taker_id))
    mine = text(client.get("/me/schedule"))
    assert "Lời mời nhận thay chỗ" in mine and session["title"] in mine
    (offer_id,) = _offers_by_volunteer(_open_request_id(booking["id"])).values()
    taken = submit(
        client,
        f"/me/cover-offers/{offer_id}/accept",
        {},
        form_page="/me/schedule",
        follow_redirects=True,
    )
    assert "chỗ này là của bạn" in text(taken)
    assert _status(booking["id"]) == "covered"


def test_find_cover_in_english(client, make_session, make_volunteer):
    from flask_babel import refresh

    from tests.page_helpers import log_in, submit, text

    session = make_session(roles=ONE_HELPER)
    volunteer_id, headers = make_volunteer()
    booking = sign_up(client, session["id"], headers)
    log_in(client, _email(volunteer_id))
    switched = submit(client, "/language", {"locale": "en", "next": "/"}, form_page="/")
    assert switched.status_code == 302
    refresh()  # the test's app context (shared with its requests) cached the locale
    page = text(client.get(f"/me/bookings/{booking['id']}/cover"))
    assert "Yes, find someone to take my seat" in page and "Tìm người thay" not in page


def _token(client, path: str) -> str:
    from tests.page_helpers import csrf_token

    return csrf_token(client, path)


def _open_request_id(assignment_id: int) -> int:
    found = db.session.scalar(
        sa.select(CoverRequest.id).where(
            CoverRequest.assignment_id == assignment_id, CoverRequest.status == "open"
        )
    )
    db.session.commit()
    return found
