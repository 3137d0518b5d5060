"""The web pages through the Flask test client: languages, CSRF, logins, a volunteer's
profile, sign-ups and schedule, an organizer's dashboard, sessions and matching runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from coordinator.bookings.models import Assignment
from coordinator.errors import PAGE_BLUEPRINTS
from coordinator.extensions import db
from coordinator.people.models import AvailabilityWindow, User, Volunteer
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import csrf_token, log_in, submit, text


def email_of(volunteer_id: int) -> str:
    return db.session.get(Volunteer, volunteer_id).email


@pytest.fixture
def volunteer_page(client, make_volunteer):
    """A logged-in volunteer (a lead expert, free Tuesday evenings in Kim Liên)."""
    volunteer_id, _ = make_volunteer(is_expert=True, availability=EVENING)
    log_in(client, email_of(volunteer_id))
    return volunteer_id


@pytest.fixture
def organizer_page(client, make_user):
    user = make_user("organizer")
    log_in(client, user.email)
    return user


# -- languages -------------------------------------------------------------------------


def test_pages_speak_vietnamese_first(client, wards):
    page = text(client.get("/"))
    assert '<html lang="vi">' in page
    assert "Các buổi học sắp tới" in page and "Bỏ qua tới nội dung chính" in page


def test_browser_language_and_the_switch_are_honoured(client, wards):
    english = text(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert '<html lang="en">' in english and "Upcoming sessions" in english

    switched = submit(client, "/language", {"locale": "en", "next": "/login"}, form_page="/")
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    assert "Log in" in text(client.get("/login"))
    assert '<html lang="en">' in text(client.get("/"))  # remembered for the browser session


def test_a_logged_in_users_language_is_saved_on_them(client, organizer_page):
    submit(client, "/language", {"locale": "en", "next": "/"}, form_page="/")
    db.session.rollback()
    assert db.session.get(User, organizer_page.id).locale == "en"


def test_the_vietnamese_catalog_translates_every_string():
    """Every msgid in code and templates has a Vietnamese translation (none fuzzy)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo

    root = Path(__file__).resolve().parents[2]
    method_map = [("coordinator/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "N_": None, "lazy_gettext": None}
    keywords["ngettext"] = (1, 2)  # a plural message: checked by its singular msgid
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(root), method_map, keywords=keywords
        )
    }
    with open(root / "translations/vi/LC_MESSAGES/messages.mo", "rb") as handle:
        catalog = {
            m.id[0] if isinstance(m.id, list | tuple) else m.id: (
                all(m.string) if isinstance(m.string, list | tuple) else m.string
            )
            for m in read_mo(handle)
            if m.id
        }
    untranslated = sorted(m for m in found if not catalog.get(m))
    assert untranslated == [], "run scripts/i18n and translate: " + repr(untranslated[:10])


# -- CSRF and error pages --------------------------------------------------------------


def test_forms_without_a_csrf_token_are_refused(client, organizer_page, make_session):
    session = make_session()
    for path in (
        "/login",
        "/logout",
        "/language",
        f"/me/sessions/{session['id']}/signup",
        "/organize/matching",
        "/organize/sessions/new",
    ):
        response = client.post(path, data={"locale": "en", "email": "x@y.vn"})
        assert response.status_code == 400, path
        assert "Biểu mẫu đã hết hạn" in text(response), path
    assert db.session.scalar(sa.select(sa.func.count(TrainingSession.id))) == 1


def test_page_errors_are_pages_and_api_errors_stay_json(client, wards):
    missing = client.get("/sessions/4242")
    assert missing.status_code == 404 and "text/html" in missing.content_type
    assert "Không tìm thấy" in text(missing)
    assert client.get("/api/v1/sessions/4242").get_json()["error"] == "not_found"


def test_every_page_blueprint_answers_errors_as_pages(app):
    """The pages live in their features' folders; each of their blueprints is listed in
    errors.PAGE_BLUEPRINTS, so their errors stay pages (the mail links' pages and the
    feeds answer their own)."""
    not_pages = (
        "/api/",
        "/static/",
        "/calendar/",
        "/notifications/",
        "/n/",  # the short link in an SMS: a message link's page, like /notifications/
        "/webhooks/",
        "/healthz",
    )
    page_blueprints = {
        rule.endpoint.rpartition(".")[0]
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(not_pages)
    }
    assert page_blueprints == PAGE_BLUEPRINTS


def test_a_page_login_does_not_authenticate_the_api(client, volunteer_page):
    assert client.get("/me/schedule").status_code == 200
    assert client.post("/api/v1/me/feed-token").status_code == 401


# -- registering and logging in --------------------------------------------------------


def test_registration_keeps_input_and_explains_errors(client, wards):
    bad = submit(
        client,
        "/register",
        {
            "full_name": "Trần Thị Mai",
            "email": "not-an-email",
            "password": "short",
            "home_ward": "kim_lien",
        },
    )
    assert bad.status_code == 422
    page = text(bad)
    assert 'value="Trần Thị Mai"' in page  # the input is kept
    assert page.count('class="field-error"') == 3  # email, password, consent
    assert 'aria-invalid="true"' in page


def test_registration_creates_a_volunteer_and_logs_in(client, wards):
    response = submit(
        client,
        "/register",
        {
            "full_name": "Lê Văn Hùng",
            "email": "Hung@Example.vn",
            "password": "mat-khau-dai-1",
            "home_ward": "kim_lien",
            "consent": "y",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/me/profile"
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.email == "hung@example.vn"))
    assert volunteer is not None and volunteer.user is not None
    assert "Lê Văn Hùng" in text(client.get("/me/profile"))

    client.get("/")  # a second registration with the same email, after logging out
    submit(client, "/logout", {}, form_page="/")
    again = submit(
        client,
        "/register",
        {
            "full_name": "Ai Đó",
            "email": "hung@example.vn",
            "password": "mat-khau-dai-2",
            "home_ward": "kim_lien",
            "consent": "y",
        },
    )
    assert again.status_code == 422 and "đã được đăng ký" in text(again)


def test_login_refuses_wrong_passwords_and_open_redirects(client, make_user):
    user = make_user("volunteer")
    wrong = submit(client, "/login", {"email": user.email, "password": "nope"})
    assert wrong.status_code == 422 and "không đúng" in text(wrong)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/steal",
        data={"email": user.email, "password": "correct-horse-battery", "csrf_token": token},
    )
    assert response.status_code == 302
    assert not response.headers["Location"].startswith("//")
    assert "evil" not in response.headers["Location"]


# -- a volunteer's pages ---------------------------------------------------------------


def test_profile_saves_skills_and_the_weekly_grid(client, volunteer_page):
    response = submit(
        client,
        "/me/profile",
        {
            "full_name": "Nguyễn Thị Lan",
            "home_ward": "kim_lien",
            "skills": ["cyber_safety"],
            "languages": ["vi", "en"],
            "accessibility_skills": ["sign_language"],
            "max_sessions_per_week": "3",
            "availability": ["5:morning", "1:evening"],
        },
    )
    assert response.status_code == 302
    db.session.rollback()
    volunteer = db.session.get(Volunteer, volunteer_page)
    assert volunteer.skills == ["cyber_safety"] and volunteer.accessibility_skills == [
        "sign_language"
    ]
    windows = db.session.scalars(
        sa.select(AvailabilityWindow)
        .where(AvailabilityWindow.volunteer_id == volunteer_page)
        .order_by(AvailabilityWindow.weekday)
    ).all()
    assert [(w.weekday, w.start_minute, w.end_minute) for w in windows] == [
        (1, 1050, 1290),
        (5, 480, 720),
    ]
    page = text(client.get("/me/profile"))
    assert re.search(r'id="availability-\d+"[^>]*checked|checked[^>]*id="availability-\d+"', page)


def test_profile_errors_keep_the_input(client, volunteer_page):
    response = submit(
        client,
        "/me/profile",
        {"full_name": "Tên Mới", "home_ward": "kim_lien", "max_sessions_per_week": "0"},
    )
    assert response.status_code == 422
    assert 'value="Tên Mới"' in text(response)
    db.session.rollback()
    assert db.session.get(Volunteer, volunteer_page).full_name != "Tên Mới"


def test_sign_up_from_sessions_that_fit_then_withdraw(client, volunteer_page, make_session):
    fits = session_at(make_session, tuesday_evening())
    session_at(make_session, tuesday_evening(), ward="lang_thuong")  # too far away
    page = text(client.get("/me/fits"))
    assert f"/sessions/{fits['id']}" in page
    assert page.count("<li>\n    <h2>") == 1

    signed = submit(
        client, f"/me/sessions/{fits['id']}/signup", {"role": "lead"}, form_page="/me/fits"
    )
    assert signed.status_code == 302
    schedule = text(client.get("/me/schedule"))
    assert "Bạn đã được xác nhận" in schedule and fits["title"] in schedule

    booking = db.session.scalar(
        sa.select(Assignment).where(Assignment.volunteer_id == volunteer_page)
    )
    assert booking.status == "confirmed"
    submit(
        client, f"/me/bookings/{booking.id}/withdraw", {"reason": "Ốm"}, form_page="/me/schedule"
    )
    db.session.rollback()
    assert db.session.get(Assignment, booking.id).status == "withdrawn"


def test_another_volunteers_booking_is_not_found(
    client, volunteer_page, make_session, make_volunteer, auth_headers
):
    session = session_at(make_session, tuesday_evening())
    other_id, other_headers = make_volunteer(availability=EVENING)
    signed = client.post(
        f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=other_headers
    )
    assert signed.status_code == 201
    response = submit(
        client, f"/me/bookings/{signed.json['id']}/withdraw", {}, form_page="/me/schedule"
    )
    assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(Assignment, signed.json["id"]).status == "confirmed"


def test_private_calendar_link_is_shown_once_and_rotates(client, volunteer_page):
    first = submit(client, "/me/calendar-link", {}, form_page="/me/schedule")
    assert first.status_code == 200
    first_url = re.search(r'(http://[^"]+/calendar/v/[^"]+\.ics)', text(first)).group(1)
    path = first_url.split("localhost:5000", 1)[-1] if "localhost" in first_url else first_url
    assert client.get(path).status_code == 200
    second = submit(client, "/me/calendar-link", {}, form_page="/me/schedule")
    assert re.search(r"/calendar/v/[^\"]+\.ics", text(second)).group(0) != path
    assert client.get(path).status_code == 404


# -- an organizer's pages --------------------------------------------------------------


def test_dashboard_shows_open_seats_with_words_not_only_colour(
    client, organizer_page, make_session
):
    soon = make_session(title="Buổi học gấp")
    page = text(client.get("/organize/"))
    assert "Buổi học gấp" in page
    assert "còn trống 3" in page  # 1 lead + 2 helpers, in words
    assert f"/organize/sessions/{soon['id']}" in page


def test_new_session_form_explains_errors_and_publishes(client, organizer_page, wards, competences):
    bad = submit(
        client,
        "/organize/sessions/new",
        {
            "title": "",
            "venue": "Nhà văn hóa",
            "starts_at": "ngày mai",
            "duration_minutes": "120",
            "capacity": "20",
            "ward": "kim_lien",
            "competence_area": "1",
            "target_group": "residents",
            "leads": "1",
            "helpers": "2",
            "interpreters": "0",
            "weekly_count": "1",
        },
    )
    assert bad.status_code == 422 and 'value="Nhà văn hóa"' in text(bad)
    starts = (tuesday_evening() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    good = submit(
        client,
        "/organize/sessions/new",
        {
            "title": "Dịch vụ công trực tuyến",
            "venue": "Nhà văn hóa tổ 3",
            "starts_at": starts,
            "duration_minutes": "90",
            "capacity": "20",
            "ward": "kim_lien",
            "competence_area": "1",
            "target_group": "residents",
            "participant_needs": ["sign_language"],
            "leads": "1",
            "helpers": "2",
            "interpreters": "1",
            "weekly_count": "3",
        },
    )
    assert good.status_code == 302
    sessions = db.session.scalars(sa.select(TrainingSession).order_by(TrainingSession.id)).all()
    assert len(sessions) == 3 and {s.series_id for s in sessions} != {None}
    assert sorted(r.role for r in sessions[0].roles) == ["helper", "interpreter", "lead"]
    assert sessions[0].participant_needs == ["sign_language"]


def test_matching_from_the_pages_with_progress(
    client, organizer_page, make_session, make_volunteer, redis_client
):
    session_at(make_session, tuesday_evening())
    for expert in (True, False, False):
        make_volunteer(is_expert=expert, availability=EVENING)
    started = submit(client, "/organize/matching", {"ward": ""})
    assert started.status_code == 302
    run_path = started.headers["Location"]
    waiting = text(client.get(run_path))
    assert 'http-equiv="refresh"' in waiting and "<progress" in waiting
    progress = client.get(run_path + "/progress").get_json()
    assert progress["status"] == "queued"

    SimpleWorker(["default", "matching"], connection=redis_client).work(burst=True)

    done = text(client.get(run_path))
    assert "đã xếp 3, còn trống 0" in done
    assert "cùng phường" in done and "same ward" not in done  # reasons, in one language
    assert client.get(run_path + "/progress").get_json()["status"] == "finished"


def test_volunteers_cannot_open_organizer_pages(client, volunteer_page):
    response = client.get("/organize/")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_edit_moves_a_session_and_cancel_needs_a_reason(client, organizer_page, make_session):
    session = make_session(title="Buổi cũ")
    form_page = f"/organize/sessions/{session['id']}/edit"
    page = text(client.get(form_page))
    assert 'value="Buổi cũ"' in page and 'name="reason"' in page
    later = (tuesday_evening(3)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "title": "Buổi mới",
        "venue": "Nhà văn hóa tổ 7",
        "starts_at": later,
        "duration_minutes": "90",
        "capacity": "30",
        "ward": "kim_lien",
        "competence_area": "1",
        "target_group": "residents",
        "leads": "1",
        "helpers": "3",
        "interpreters": "0",
        "reason": "Đổi giờ",
    }
    saved = submit(client, form_page, data)
    assert saved.status_code == 302
    db.session.rollback()
    stored = db.session.get(TrainingSession, session["id"])
    assert (stored.title, stored.capacity, stored.version) == ("Buổi mới", 30, 2)
    assert {r.role: r.count for r in stored.roles} == {"lead": 1, "helper": 3}

    detail = f"/organize/sessions/{session['id']}"
    refused = submit(client, f"{detail}/cancel", {"reason": " "}, form_page=detail)
    assert refused.status_code == 422 and "Hãy ghi lý do hủy" in text(refused)
    db.session.rollback()
    assert db.session.get(TrainingSession, session["id"]).status == "published"
    submit(client, f"{detail}/cancel", {"reason": "Mưa bão"}, form_page=detail)
    db.session.rollback()
    stored = db.session.get(TrainingSession, session["id"])
    assert (stored.status, stored.cancel_reason) == ("cancelled", "Mưa bão")


def test_assigning_a_volunteer_and_a_squad_from_the_session_page(
    client, organizer_page, make_session, make_volunteer, organizer_headers
):
    session = session_at(make_session, tuesday_evening())
    leader = make_volunteer(is_expert=True, availability=EVENING)[0]
    member = make_volunteer(availability=EVENING)[0]
    solo = make_volunteer(availability=EVENING)[0]
    squad = client.post(
        "/api/v1/squads",
        json={
            "name": "Đội Kim Liên",
            "leader_id": leader,
            "member_ids": [member],
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    )
    assert squad.status_code == 201, squad.json
    detail = f"/organize/sessions/{session['id']}"
    submit(
        client,
        f"{detail}/assign-squad",
        {"squad_id": squad.json["id"], "role": "helper"},
        form_page=detail,
    )
    submit(client, f"{detail}/assign", {"volunteer_id": solo, "role": "helper"}, form_page=detail)
    db.session.rollback()
    booked = {
        (a.volunteer_id, a.role.role, a.status)
        for a in db.session.scalars(
            sa.select(Assignment).where(Assignment.session_id == session["id"])
        )
    }
    assert booked == {
        (leader, "lead", "confirmed"),
        (member, "helper", "confirmed"),
        (solo, "helper", "confirmed"),
    }
    page = text(client.get(detail))
    assert "Đội Kim Liên" in page and page.count("được phân công") == 3
