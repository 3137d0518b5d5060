"""A volunteer in Chromium, in Vietnamese: registers with the keyboard alone, ticks a skill
and a free evening in the profile, finds a session that fits, signs up and sees it in
"Lịch của tôi"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import assert_focus_visible, focused, hand_over, needs_browser
from tests.matching.test_runs import session_at, tuesday_evening

pytestmark = [needs_browser, pytest.mark.slow]

TITLE = "Hướng dẫn dùng VNeID cho người cao tuổi"


def tab_to(page, field_id: str) -> None:
    """Press Tab once and check the focus landed on `field_id`, visibly."""
    page.keyboard.press("Tab")
    element = assert_focus_visible(page)
    assert element["id"] == field_id, f"Tab reached {element}, expected #{field_id}"


def test_a_volunteer_registers_sets_up_and_signs_up(page, make_session):
    # A session that fits only once she says she helps with online public services and is
    # free on Tuesday evenings (the helper role requires that skill).
    session_at(
        make_session,
        tuesday_evening(),
        title=TITLE,
        roles=[
            {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"]},
            {"role": "helper", "count": 2, "required_skills": ["online_public_services"]},
        ],
    )
    hand_over()

    # Register with the keyboard only: the skip link, then Tab from field to field.
    page.goto("/register")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    page.keyboard.press("Tab")
    assert "skip-link" in assert_focus_visible(page)["cls"]
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    tab_to(page, "full_name")
    page.keyboard.type("Đỗ Minh Châu")
    tab_to(page, "email")
    page.keyboard.type("chau@example.vn")
    tab_to(page, "password")
    page.keyboard.type("mat-khau-du-dai")
    tab_to(page, "home_ward")
    for _ in range(20):  # arrow keys move through a closed select's options
        if page.locator("#home_ward").input_value() == "kim_lien":
            break
        page.keyboard.press("ArrowDown")
    expect(page.locator("#home_ward")).to_have_value("kim_lien")
    tab_to(page, "consent")
    page.keyboard.press("Space")
    expect(page.locator("#consent")).to_be_checked()
    page.keyboard.press("Tab")
    assert assert_focus_visible(page)["tag"] == "button"
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/me/profile(#main)?$"))  # a redirect keeps the #main
    expect(page.get_by_role("status")).to_contain_text("Chào mừng bạn!")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hồ sơ của tôi")

    # Nothing fits yet: no skill, no free time.
    page.get_by_role("navigation").get_by_role(
        "link", name="Buổi học phù hợp với tôi", exact=True
    ).click()
    expect(page.get_by_text("Hiện chưa có buổi phù hợp.", exact=False)).to_be_visible()

    page.get_by_role("main").get_by_role("link", name="Hồ sơ của tôi", exact=True).click()
    page.get_by_label("Dịch vụ công trực tuyến, VNeID").check()
    page.get_by_label("Thứ Ba Tối").check()  # the weekly grid's Tuesday evening
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu hồ sơ của bạn.")
    expect(page.get_by_label("Thứ Ba Tối")).to_be_checked()

    page.get_by_role("navigation").get_by_role(
        "link", name="Buổi học phù hợp với tôi", exact=True
    ).click()
    card = page.get_by_role("listitem").filter(has_text=TITLE)
    expect(card).to_contain_text("phường của bạn")
    card.get_by_label("Vai trò").select_option("helper")
    card.get_by_role("button", name="Đăng ký", exact=True).click()

    page.wait_for_url(re.compile(r"/me/schedule$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lịch của tôi")
    expect(page.get_by_role("status")).to_contain_text(f"Bạn đã được xác nhận tham gia “{TITLE}”")
    confirmed = page.get_by_role("region", name="Đã xác nhận")
    expect(confirmed.get_by_role("link", name=TITLE)).to_be_visible()
    expect(confirmed).to_contain_text("Vai trò: Hỗ trợ")
