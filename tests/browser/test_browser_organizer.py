"""An organizer in Chromium: logs in, publishes a session through the form, starts a
matching run, a real RQ worker does it, and the run page shows the proposals with their
reasons (its progress script reloads the page when the run finishes)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import hand_over, log_in, needs_browser
from tests.matching.test_runs import EVENING, tuesday_evening, work

pytestmark = [needs_browser, pytest.mark.slow]

TITLE = "Dịch vụ công trực tuyến cho hộ kinh doanh"


def test_an_organizer_publishes_a_session_and_runs_matching(
    page, competences, make_user, make_volunteer, redis_client
):
    make_volunteer(full_name="Nguyễn Thị Lan", is_expert=True, availability=EVENING)
    make_volunteer(full_name="Trần Văn Minh", availability=EVENING)
    make_volunteer(full_name="Lê Thu Hà", availability=EVENING)
    organizer = make_user("organizer", email="to-chuc@example.vn")
    email = organizer.email
    hand_over()

    log_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Nhân lực cho bốn tuần tới")
    page.get_by_role("link", name="Buổi học mới", exact=True).click()
    page.get_by_label("Tên buổi học").fill(TITLE)
    page.get_by_label("Phường", exact=True).select_option("kim_lien")
    page.get_by_label("Địa điểm").fill("Nhà văn hóa tổ dân phố 5")
    starts = tuesday_evening()  # 18:30 Hanoi time; the volunteers are free 18:00-21:00
    page.get_by_label("Bắt đầu (giờ Hà Nội)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Thời lượng (phút)").fill("90")
    page.get_by_role("button", name="Đăng", exact=True).click()

    page.wait_for_url(re.compile(r"/organize/sessions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("status")).to_be_visible()

    page.get_by_role("link", name="Điều phối nhân lực", exact=True).click()
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Ghép đội", exact=True).click()
    page.get_by_role("button", name="Bắt đầu ghép đội", exact=True).click()
    page.wait_for_url(re.compile(r"/organize/runs/\d+$"))
    expect(page.locator("#run-status-text")).to_have_text("Đang chờ")
    expect(page.get_by_label("Tiến độ")).to_be_visible()

    work(redis_client)  # a real RQ worker, here, while the page polls its progress

    proposals = page.get_by_role("table", name="Ai được đề xuất ở đâu, và vì sao")
    expect(proposals).to_be_visible(timeout=15_000)  # the page reloaded itself
    expect(page.locator("#run-status-text")).to_have_text("Hoàn tất")
    expect(page.get_by_role("main")).to_contain_text("đã xếp 3, còn trống 0")
    for name in ("Nguyễn Thị Lan", "Trần Văn Minh", "Lê Thu Hà"):
        row = proposals.get_by_role("row").filter(has_text=name)
        expect(row).to_contain_text(TITLE)
        expect(row).to_contain_text("cùng phường")  # the reader's language only
        expect(row).not_to_contain_text("same ward")
    expect(proposals.get_by_role("row").filter(has_text="Nguyễn Thị Lan")).to_contain_text(
        "chuyên gia"
    )
