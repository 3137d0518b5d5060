"""static/forms.js in Chromium on a 390×844 phone, for the session form, the participant
registration and the check-in sheet: a failed submission comes back with every value
kept and the focus on the error summary; the submit button is disabled while the answer
is on its way, so a second tap sends nothing; Back then the same button again creates
nothing twice (the form's one-time token, or the sheet being a set of facts)."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from coordinator.people.models import User
from coordinator.progress.models import Assessment
from coordinator.sessions.models import TrainingSession
from tests.browser.browser_helpers import hand_over, log_in, needs_browser
from tests.matching.test_runs import tuesday_evening
from tests.participants.conftest import lesson, start_now

pytestmark = [needs_browser, pytest.mark.slow]
__all__ = ["lesson"]  # the participants' fixture, used here

PHONE = (390, 844)


@pytest.fixture
def browser(browser_with_back_cache):
    """Back restores the page from memory, as in the Chromium people use."""
    return browser_with_back_cache


def rows(model, *where) -> int:
    """How many rows, read in a transaction ended at once (SQLite: the live server's
    writes must not wait for this test's read)."""
    db.session.rollback()
    found = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
    hand_over()
    return found or 0


class SlowPosts:
    """WSGI middleware of the live server: counts the POSTs to `path` and answers each a
    second late, as a slow connection at a venue would, while the page is watched."""

    def __init__(self, app, path: str):
        self.app, self.path, self.sent = app, path, 0
        self.inner = app.wsgi_app
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == self.path:
            self.sent += 1
            time.sleep(1)
        return self.inner(environ, start_response)

    def remove(self) -> None:
        self.app.wsgi_app = self.inner


# Playwright waits for a pending navigation before it looks at a page, so the page itself
# notes, 50 ms after the submit (forms.js acts at once), whether the button is disabled,
# and taps it again; sessionStorage outlives the navigation.
SECOND_TAP = """b => b.form.addEventListener("submit", () => setTimeout(() => {
    sessionStorage.setItem("disabled_after_submit", String(b.disabled));
    b.click();
}, 50))"""


def failed_submission_focuses_the_summary(page, button, kept: dict[str, str]) -> None:
    """The answer to a failed submission: "Lỗi:" in the title, the focus on the error
    summary (forms.js), every value as typed."""
    button.click()
    expect(page).to_have_title(re.compile("^Lỗi: "))
    expect(page.locator("#error-summary")).to_be_focused()
    for selector, value in kept.items():
        expect(page.locator(selector)).to_have_value(value)


def double_tap_sends_once(app, page, button, path: str) -> None:
    """Tap, and tap again while the answer is on its way: the server gets one POST."""
    posts = SlowPosts(app, path)
    button.evaluate(SECOND_TAP)
    button.click()
    page.wait_for_load_state()
    posts.remove()
    assert page.evaluate("sessionStorage.getItem('disabled_after_submit')") == "true"
    assert posts.sent == 1


def back_then_send_again(page, label: str, typed: str, button: str) -> None:
    """Back to the form as it was sent (the browser keeps it in memory, its one-time
    token too; forms.js enables its button again), and the same button again."""
    page.go_back(wait_until="commit")  # a page restored from memory fires no load event
    expect(page.get_by_label(label)).to_have_value(typed)
    page.get_by_role("button", name=button, exact=True).click()


def test_the_session_form(app, new_page, make_user, competences, wards):
    organizer = make_user("organizer", email="forms-organizer@example.vn")
    email = organizer.email
    hand_over()
    page = new_page(viewport=PHONE)
    log_in(page, email)
    page.goto("/organize/sessions/new")
    page.get_by_label("Tên buổi học").fill("Buổi học gửi hai lần")
    page.get_by_label("Địa điểm").fill("Nhà văn hóa tổ 5")
    page.get_by_label("Thời lượng (phút)").fill("90")
    publish = page.get_by_role("button", name="Đăng", exact=True)
    # No ward and no start: refused, everything typed kept.
    failed_submission_focuses_the_summary(
        page, publish, {"#title": "Buổi học gửi hai lần", "#venue": "Nhà văn hóa tổ 5"}
    )
    page.get_by_label("Phường", exact=True).select_option("kim_lien")
    page.get_by_label("Bắt đầu (giờ Hà Nội)").fill(tuesday_evening().strftime("%Y-%m-%dT%H:%M"))
    double_tap_sends_once(
        app, page, page.get_by_role("button", name="Đăng", exact=True), "/organize/sessions/new"
    )
    page.wait_for_url(re.compile(r"/organize/sessions/\d+$"))
    assert rows(TrainingSession, TrainingSession.title == "Buổi học gửi hai lần") == 1

    # Back from a sent form, then the same button: the first answer again, nothing new.
    page.goto("/organize/sessions/new")
    page.get_by_label("Tên buổi học").fill("Buổi học gửi lại sau khi quay lại")
    page.get_by_label("Phường", exact=True).select_option("kim_lien")
    page.get_by_label("Địa điểm").fill("Nhà văn hóa tổ 5")
    page.get_by_label("Bắt đầu (giờ Hà Nội)").fill(tuesday_evening().strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Đăng", exact=True).click()
    page.wait_for_url(re.compile(r"/organize/sessions/\d+$"))
    created = page.url
    back_then_send_again(page, "Tên buổi học", "Buổi học gửi lại sau khi quay lại", "Đăng")
    page.wait_for_url(created)
    assert rows(TrainingSession, TrainingSession.title.like("Buổi học gửi lại%")) == 1


def test_the_participant_registration(app, new_page, make_session):
    session = make_session(title="Buổi học cho phụ huynh")
    hand_over()
    page = new_page(viewport=PHONE)
    path = f"/sessions/{session['id']}/register"
    page.goto(path)
    page.get_by_label("Tôi đăng ký cho người khác").check()
    page.get_by_label("Họ và tên").fill("Đỗ Minh Khôi")
    page.get_by_label(re.compile(r"Tôi đồng ý")).check()
    register = page.get_by_role("button", name="Đăng ký", exact=True)
    # Someone else without the registrant's own contact: refused, the name kept.
    failed_submission_focuses_the_summary(page, register, {"#full_name": "Đỗ Minh Khôi"})
    page.get_by_label(re.compile("người giám hộ")).fill("0912 345 678")
    double_tap_sends_once(app, page, register, path)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bạn đã đăng ký")
    assert rows(Registration) == 1

    # Back then Send again: the one-time token answers when the browser kept the page
    # in memory; when it fetches it again (Chromium does not always keep it), the same
    # person (name and contact) is refused as a duplicate.
    page.goto(path)
    page.get_by_label("Họ và tên").fill("Trần Thị Hoa")
    page.locator("#contact").fill("0987 654 321")
    page.get_by_label(re.compile(r"Tôi đồng ý")).check()
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bạn đã đăng ký")
    back_then_send_again(page, "Họ và tên", "Trần Thị Hoa", "Đăng ký")
    page.wait_for_load_state()
    assert rows(Registration) == 2


def test_the_check_in_sheet(app, new_page, lesson):
    start_now(lesson["session"]["id"])
    lead = db.session.scalar(sa.select(User).where(User.role == "volunteer").order_by(User.id))
    email, reg = lead.email, lesson["registration"]
    hand_over()
    page = new_page(viewport=PHONE)
    log_in(page, email)
    path = f"/checkin/{lesson['session']['id']}"
    page.goto(path)
    page.get_by_role("checkbox", name="Có mặt").check()
    page.get_by_text("Đánh giá kỹ năng (không bắt buộc)").click()
    levels = page.locator(f"select[name^=level-{reg}-]")
    levels.first.select_option("3")
    # A level the page does not offer (an old page, a tampered one): the save is refused.
    levels.nth(1).evaluate("s => { s.options[1].value = 'chin'; s.selectedIndex = 1; }")
    save = page.get_by_role("button", name="Lưu điểm danh", exact=True)
    failed_submission_focuses_the_summary(page, save, {f"#level-{reg}-1": "3"})
    expect(page.get_by_role("checkbox", name="Có mặt")).to_be_checked()
    assert rows(Assessment) == 0

    page.locator(f"select[name^=level-{reg}-]").nth(1).select_option("4")
    save = page.get_by_role("button", name="Lưu điểm danh", exact=True)
    double_tap_sends_once(app, page, save, path)
    expect(page.get_by_role("status")).to_contain_text("Đã lưu")
    assert rows(Assessment) == 2

    page.goto(path)
    page.get_by_text("Đánh giá kỹ năng (không bắt buộc)").click()
    page.locator(f"select[name^=level-{reg}-]").first.select_option("5")
    page.get_by_role("button", name="Lưu điểm danh", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu")
    page.go_back(wait_until="commit")
    expect(page.locator(f"#level-{reg}-1")).to_have_value("5")
    page.get_by_role("button", name="Lưu điểm danh", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu")
    assert rows(Assessment) == 2  # the same facts, recorded once
    assert rows(Registration, Registration.attended.is_(True)) == 1
