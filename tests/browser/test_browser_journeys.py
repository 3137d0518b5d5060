"""The four journeys of issue 19 in Chromium, each at a phone's 390×844 and a laptop's
1366×768, with axe-core's WCAG 2.0-2.2 A/AA and best-practice rules finding nothing on
every page on the way; on the phone, the header fits in 100 px, buttons are 44 px high
and nothing scrolls sideways. The phone runs take the README's screenshots."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from coordinator.database import utcnow
from tests.browser.browser_helpers import (
    describe,
    hand_over,
    log_in,
    needs_browser,
    phone_problems,
    screenshot,
    strict_axe,
)
from tests.matching.test_runs import EVENING, session_at, tuesday_evening, work
from tests.participants.conftest import lesson, start_now

pytestmark = [needs_browser, pytest.mark.slow]
__all__ = ["lesson"]  # the participants' fixture, used here

PHONE, LAPTOP = (390, 844), (1366, 768)
SIZES = pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])


class Checker:
    """Collects what is wrong on each page the journey reaches."""

    def __init__(self, page, size, screenshot_dir):
        self.page, self.phone, self.dir = page, size == PHONE, screenshot_dir
        self.problems: list[str] = []

    def __call__(self, name: str, shot: str | None = None) -> None:
        self.page.wait_for_load_state()
        violations = strict_axe(self.page)
        if violations:
            self.problems.append(f"{name} ({self.page.url}):\n{describe(violations)}")
        if self.phone:
            self.problems += phone_problems(self.page, name)
            if shot:
                screenshot(self.page, self.dir, shot)

    def done(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def open_menu(page) -> None:
    """On a phone the navigation folds behind the menu button (and the header is short)."""
    page.wait_for_load_state()
    if page.viewport_size["width"] >= 600:
        return
    button = page.get_by_role("button", name="Trình đơn")
    expect(page.get_by_role("navigation", name="Điều hướng chính")).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("navigation", name="Điều hướng chính")).to_be_visible()


@SIZES
def test_volunteer_journey(
    size, new_page, make_session, make_volunteer, client, screenshot_dir, smtp, redis_client
):
    title = f"VNeID cho người cao tuổi {size[0]}"
    session = session_at(
        make_session,
        tuesday_evening(),
        title=title,
        roles=[{"role": "lead", "count": 1}, {"role": "helper", "count": 2}],
        participant_needs=["low_vision"],
    )
    _lead, lead_headers = make_volunteer(
        full_name="Nguyễn Thị Lan", is_expert=True, availability=EVENING
    )
    signed = client.post(
        f"/api/v1/sessions/{session['id']}/signups", json={"role": "lead"}, headers=lead_headers
    )
    assert signed.status_code == 201, signed.json
    hand_over()
    page = new_page(viewport=size)
    check = Checker(page, size, screenshot_dir)

    page.goto("/register")
    check("register", "journey-volunteer-1-register")
    page.get_by_label("Họ và tên").fill("Đỗ Minh Châu")
    page.get_by_label("Email").fill(f"chau{size[0]}@example.vn")
    page.get_by_label("Mật khẩu (ít nhất 10 ký tự)").fill("mat-khau-du-dai")
    page.get_by_label("Phường nơi ở").select_option("kim_lien")
    page.get_by_label("Tôi đồng ý").check()
    page.get_by_role("button", name="Tạo tài khoản tình nguyện viên").click()
    page.wait_for_url(re.compile(r"/me/profile"))

    page.get_by_label("Dịch vụ công trực tuyến, VNeID").check()
    page.locator("label.cell-label").filter(
        has=page.get_by_label("Thứ Ba Tối")
    ).click()  # a tap on the cell
    expect(page.get_by_label("Thứ Ba Tối")).to_be_checked()
    check("profile", "journey-volunteer-2-profile")
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu hồ sơ của bạn.")

    open_menu(page)
    page.get_by_role("navigation").get_by_role("link", name="Buổi học phù hợp với tôi").click()
    card = page.get_by_role("listitem").filter(has_text=title)
    expect(card).to_contain_text("Còn chỗ trống: đăng ký là được xác nhận ngay.")
    check("sessions that fit", "journey-volunteer-3-fits")
    card.get_by_label("Vai trò").select_option("helper")
    card.get_by_role("button", name="Đăng ký", exact=True).click()

    page.wait_for_url(re.compile(r"/me/schedule$"))
    confirmed = page.get_by_role("region", name="Đã xác nhận")
    expect(confirmed).to_contain_text("Nguyễn Thị Lan")  # the lead
    expect(confirmed).to_contain_text("Hỗ trợ người nhìn kém")  # participants' needs in words
    check("schedule", "journey-volunteer-4-schedule")

    confirmed.get_by_role("link", name="Rút lui…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bạn rút khỏi")
    check("withdraw confirmation", "journey-volunteer-5-withdraw")
    page.get_by_role("link", name="Không, giữ chỗ của tôi").click()
    expect(page.get_by_role("region", name="Đã xác nhận")).to_contain_text(title)
    page.get_by_role("region", name="Đã xác nhận").get_by_role("link", name="Rút lui…").click()
    page.get_by_label("Lý do (không bắt buộc, ban tổ chức sẽ thấy)").fill("Bận việc nhà")
    page.get_by_role("button", name="Có, rút lui").click()
    expect(page.get_by_role("status")).to_contain_text("Bạn đã rút khỏi buổi học.")

    # Forgot the password: a link by email (the test's SMTP server, a real RQ worker).
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_role("link", name="Quên mật khẩu?").click()
    check("forgot password", "journey-volunteer-6-forgot")
    page.get_by_label("Email").fill(f"chau{size[0]}@example.vn")
    page.get_by_role("button", name="Gửi đường dẫn cho tôi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hãy xem hộp thư")
    work(redis_client)
    body = smtp.to(f"chau{size[0]}@example.vn")[-1].get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+(/reset-password/\S+)", body).group(1)
    page.goto(link)
    check("new password")
    page.get_by_label("Mật khẩu mới (ít nhất 10 ký tự)").fill("mat-khau-moi-2026")
    page.get_by_label("Nhập lại mật khẩu mới").fill("mat-khau-moi-2026")
    page.get_by_role("button", name="Lưu mật khẩu mới").click()
    page.wait_for_url(re.compile(r"/login"))
    check.done()


@SIZES
def test_organizer_journey(
    size,
    new_page,
    make_session,
    make_volunteer,
    make_user,
    client,
    organizer_headers,
    screenshot_dir,
):
    in_two_days = (utcnow() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    urgent = session_at(make_session, in_two_days, title="Buổi còn trống giảng viên")
    session_at(make_session, tuesday_evening(2), title="Buổi ba tuần nữa")
    make_volunteer(full_name="Nguyễn Thị Lan", is_expert=True, availability=EVENING)
    make_volunteer(full_name="Trần Văn Minh", availability=EVENING)
    make_volunteer(
        full_name="Vũ Sáng Sớm", availability=[{"weekday": 5, "start": "08:00", "end": "12:00"}]
    )
    learner = client.post(
        "/api/v1/participants",
        json={"full_name": "Đỗ Thị Mai", "ward": "kim_lien", "target_group": "residents"},
        headers=organizer_headers,
    )
    client.post(
        f"/api/v1/sessions/{urgent['id']}/registrations",
        json={"participant_id": learner.json["id"]},
        headers=organizer_headers,
    )
    organizer = make_user("organizer", email=f"to-chuc{size[0]}@example.vn")
    email = organizer.email
    hand_over()
    page = new_page(viewport=size)
    check = Checker(page, size, screenshot_dir)
    log_in(page, email)

    summary = page.get_by_role("list", name="Việc cần bạn lúc này")
    expect(summary).to_contain_text("buổi trong 7 ngày tới còn thiếu giảng viên chính")
    check("dashboard", "journey-organizer-1-dashboard")
    if size == PHONE:  # cards, not a table
        assert page.locator("main table").count() == 0

    page.get_by_role("link", name="Buổi còn trống giảng viên").click()
    page.get_by_label("Tìm theo tên hoặc phường").fill("minh")
    check("session staffing and picker", "journey-organizer-2-picker")
    picker = page.get_by_label("Tình nguyện viên", exact=True)
    expect(picker.locator("option:not([disabled])").first).to_contain_text("Trần Văn Minh")

    page.get_by_role("link", name="Hủy buổi học…").click()
    expect(page.get_by_role("main")).to_contain_text(
        "0 tình nguyện viên và 1 người học sẽ được báo"
    )
    check("cancel confirmation", "journey-organizer-3-cancel")
    page.get_by_role("button", name="Có, hủy buổi học").click()
    expect(page.get_by_text("Lỗi:").first).to_be_visible()  # no reason: the page stays
    page.get_by_label(re.compile("^Lý do")).fill("Mưa bão")
    page.get_by_role("button", name="Có, hủy buổi học").click()
    expect(page.get_by_role("status")).to_contain_text("Buổi học đã được hủy.")
    check.done()


@SIZES
def test_participant_journey(size, new_page, make_session, screenshot_dir):
    session = make_session(title="Điện thoại thông minh cho học sinh", target_group="students")
    hand_over()
    page = new_page(viewport=size)
    check = Checker(page, size, screenshot_dir)
    page.goto(f"/sessions/{session['id']}")
    check("session", "journey-participant-1-session")
    page.get_by_role("link", name="Đăng ký học").click()
    expect(page.get_by_label("Phường nơi bạn sống")).to_have_value(session["ward"])
    page.get_by_label("Tôi đăng ký cho người khác").check()
    page.get_by_label("Họ và tên").fill("Đỗ Minh Khôi")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    expect(page.get_by_text("Lỗi:").first).to_be_visible()  # the registrant's own contact
    expect(page.get_by_label("Họ và tên")).to_have_value("Đỗ Minh Khôi")
    check("registration with an error", "journey-participant-2-register")
    page.get_by_label(re.compile("người giám hộ")).fill("0912345678")
    page.get_by_label(re.compile("Tôi đồng ý")).check()
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bạn đã đăng ký")
    check("registered", "journey-participant-3-registered")
    page.get_by_role("link", name="Lượt đăng ký của tôi", exact=True).click()
    page.get_by_role("link", name="Hủy đăng ký của tôi…").click()
    check("cancel registration", "journey-participant-4-cancel")
    page.get_by_role("button", name="Có, hủy đăng ký của tôi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đã hủy đăng ký")
    # The way back by the phone given (the same answer either way): a typo first, kept.
    page.goto("/registrations/find")
    page.get_by_label(re.compile("Số điện thoại hoặc email")).fill("0912 34")
    page.get_by_role("button", name="Gửi đường dẫn cho tôi").click()
    expect(page.get_by_text("Lỗi:").first).to_be_visible()
    expect(page.get_by_label(re.compile("Số điện thoại hoặc email"))).to_have_value("0912 34")
    check("find by phone, with an error", "journey-participant-5-find")
    page.get_by_label(re.compile("Số điện thoại hoặc email")).fill("0912 345 678")
    page.get_by_role("button", name="Gửi đường dẫn cho tôi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kiểm tra tin nhắn của bạn")
    check("find by phone, sent")
    check.done()


@SIZES
def test_squad_lead_at_the_door(size, new_page, lesson, screenshot_dir):
    import sqlalchemy as sa

    from coordinator.extensions import db
    from coordinator.people.models import User

    start_now(lesson["session"]["id"])
    lead = db.session.scalar(sa.select(User).where(User.role == "volunteer").order_by(User.id))
    email = lead.email
    hand_over()
    page = new_page(viewport=size)
    check = Checker(page, size, screenshot_dir)
    log_in(page, email)
    page.goto(f"/checkin/{lesson['session']['id']}")
    expect(page.get_by_role("main")).to_contain_text("Hoa N.")
    expect(page.get_by_role("main")).to_contain_text("Trình đọc màn hình")
    check("check-in", "journey-lead-1-checkin")
    page.get_by_text("Đánh giá kỹ năng (không bắt buộc)").click()
    page.locator("select[name^=level-]").first.select_option("3")
    page.get_by_role("button", name="Tất cả có mặt").click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu")
    expect(page.get_by_role("checkbox", name="Có mặt")).to_be_checked()
    check("check-in saved", "journey-lead-2-saved")
    check.done()
