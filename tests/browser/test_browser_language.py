"""The language switch in Chromium: Vietnamese by default, English after pressing the
switch, remembered from page to page, and back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browser_helpers import hand_over, needs_browser

pytestmark = [needs_browser, pytest.mark.slow]


def test_vietnamese_by_default_english_after_the_switch(new_page, wards):
    hand_over()
    page = new_page(locale="fr-FR")  # a browser that asks for neither language
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Các buổi học sắp tới")

    page.get_by_role("button", name="English", exact=True).click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Upcoming sessions")

    page.get_by_role("link", name="Log in", exact=True).click()  # another page: still English
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_role("link", name="Volunteer with us").first.click()
    expect(page.get_by_label("Home ward")).to_be_visible()
    page.goto("/wards/kim_lien")
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Subscribe to the calendar")).to_be_visible()

    switch_back = page.get_by_role("button", name="Tiếng Việt", exact=True)
    expect(switch_back).to_have_attribute("lang", "vi")  # read out in its own language
    switch_back.click()
    expect(html).to_have_attribute("lang", "vi")
    expect(page).to_have_url(re.compile(r"/wards/kim_lien$"))  # back on the same page
    expect(page.get_by_role("heading", name="Theo dõi lịch")).to_be_visible()
