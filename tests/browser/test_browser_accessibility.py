"""Every main page in Chromium with axe-core injected: no serious or critical violation,
`lang`, one h1, a working skip link; and the README's screenshots of the main pages."""

from __future__ import annotations

import pytest

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from tests.browser.browser_helpers import (
    hand_over,
    log_in,
    needs_browser,
    page_problems,
    problems_here,
    screenshot,
)
from tests.matching.test_runs import EVENING, session_at, tuesday_evening, work

pytestmark = [needs_browser, pytest.mark.slow]


@pytest.fixture
def district(client, make_session, make_volunteer, make_user, auth_headers, redis_client):
    """A small district in use: sessions, volunteers, a confirmed sign-up, a finished
    matching run whose proposals include one for the volunteer who logs in, and a later
    session that fits her."""
    soon = session_at(
        make_session, tuesday_evening(), title="Dùng VNeID và dịch vụ công trực tuyến"
    )
    later = session_at(
        make_session, tuesday_evening(2), title="An toàn trên mạng cho người cao tuổi"
    )
    session_at(
        make_session,
        tuesday_evening(1, hour=19),
        title="Thanh toán điện tử không dùng tiền mặt",
        ward="van_mieu_quoc_tu_giam",
    )
    lan, lan_headers = make_volunteer(
        full_name="Nguyễn Thị Lan",
        is_expert=True,
        availability=[  # the profile grid's Tuesday evening and Saturday morning
            {"weekday": 1, "start": "17:30", "end": "21:30"},
            {"weekday": 5, "start": "08:00", "end": "12:00"},
        ],
    )
    for name in ("Trần Văn Minh", "Lê Thu Hà", "Phạm Quốc Bảo"):
        make_volunteer(full_name=name, availability=EVENING)
    signed = client.post(
        f"/api/v1/sessions/{later['id']}/signups", json={"role": "lead"}, headers=lan_headers
    )
    assert signed.status_code == 201, signed.json
    organizer = make_user("organizer", email="to-chuc@example.vn")
    make_user("admin", email="quan-tri@example.vn")
    learner = client.post(
        "/api/v1/participants",
        json={
            "full_name": "Đỗ Thị Mai",
            "ward": "kim_lien",
            "target_group": "residents",
            "accessibility_needs": ["low_vision"],
            "consent": True,
        },
    )
    assert learner.status_code == 201, learner.json
    registered = client.post(
        f"/api/v1/sessions/{soon['id']}/registrations",
        json={"participant_id": learner.json["id"]},
        headers=auth_headers(organizer),
    )
    assert registered.status_code == 201, registered.json
    run = client.post("/api/v1/matching/runs", json={}, headers=auth_headers(organizer))
    assert run.status_code == 202, run.json
    work(redis_client)
    session_at(make_session, tuesday_evening(3), title="Ứng dụng AI cơ bản trong đời sống")
    world = {
        "session": soon["id"],
        "run": run.json["id"],
        "volunteer": db.session.get(Volunteer, lan).email,
        "organizer": "to-chuc@example.vn",
        "admin": "quan-tri@example.vn",
    }
    hand_over()
    return world


def test_main_pages_are_accessible(district, new_page, screenshot_dir):
    problems = []

    visitor = new_page()
    for path, name in (
        ("/", "home"),
        (f"/sessions/{district['session']}", "session"),
        ("/wards/kim_lien", "ward"),
        ("/login", "login"),
        (f"/sessions/{district['session']}/register", "participant-registration"),
        ("/register", "register"),  # last: the next step submits it empty
    ):
        problems += page_problems(visitor, path, name)
        if name in ("home", "session"):
            screenshot(visitor, screenshot_dir, name)
    visitor.get_by_role("button", name="Tạo tài khoản tình nguyện viên").click()
    visitor.get_by_text("Lỗi:").first.wait_for()
    problems += problems_here(visitor, "register with errors")

    volunteer = new_page()
    log_in(volunteer, district["volunteer"])
    for path, name in (
        ("/me/profile", "profile"),
        ("/me/fits", "sessions-that-fit"),
        ("/me/schedule", "schedule"),
    ):
        problems += page_problems(volunteer, path, name)
        if name in ("profile", "schedule"):
            screenshot(volunteer, screenshot_dir, name)

    organizer = new_page()
    log_in(organizer, district["organizer"])
    for path, name in (
        ("/organize/", "dashboard"),
        ("/organize/sessions/new", "new-session"),
        (f"/organize/sessions/{district['session']}", "organizer-session"),
        ("/organize/matching", "matching"),
        (f"/organize/runs/{district['run']}", "matching-run"),
        (f"/organize/sessions/{district['session']}/participants", "participants"),
        (f"/checkin/{district['session']}", "check-in"),
        ("/organize/volunteers/import", "import-volunteers"),
        ("/organize/progress", "progress"),
        ("/organize/hours", "hours"),
    ):
        problems += page_problems(organizer, path, name)
        if name in ("dashboard", "matching-run"):
            screenshot(organizer, screenshot_dir, name)
    organizer.goto("/organize/sessions/new")
    organizer.get_by_role("button", name="Đăng", exact=True).click()
    organizer.get_by_text("Lỗi:").first.wait_for()
    problems += problems_here(organizer, "new session with errors")

    admin = new_page()
    log_in(admin, district["admin"])
    for path, name in (("/admin/users", "users"), ("/admin/reference", "reference-data")):
        problems += page_problems(admin, path, name)

    assert not problems, "\n".join(problems)
