"""Browser fixtures: the real app on a loopback port, driven by Debian's Chromium through
Playwright (sync API). Test modules here carry `pytestmark = [needs_browser, pytest.mark.slow]`."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.browser_helpers import CHROMIUM, SCREENSHOTS, missing_for_browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def playwright():
    """Playwright's driver, once for the whole run."""
    from playwright.sync_api import sync_playwright

    missing = missing_for_browser()
    assert not missing, "missing for the browser tests: " + ", ".join(missing)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    """One headless Chromium for the whole run (each test gets its own context)."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def browser_with_back_cache(playwright):
    """Chromium as people have it, Back restoring a page from memory (Playwright turns
    the back-forward cache off by default): where Back then Submit is the question."""
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield chromium
    chromium.close()


@pytest.fixture
def live_server(app):
    """The test's app served by werkzeug on a free loopback port: its base URL.

    Requests run in server threads with their own app contexts and database sessions, so
    a test must commit its own session (see `hand_over`) before the browser acts."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(locale="vi-VN", viewport=(w, h)) -> a page in a fresh browser context (own
    cookies; a phone's touch screen below 600 px). Any
    Content-Security-Policy violation Chromium reports fails the test."""
    contexts = []
    refused: list[str] = []

    def make(locale: str = "vi-VN", viewport: tuple[int, int] = (1280, 800)):
        context = browser.new_context(
            base_url=live_server,
            locale=locale,
            timezone_id="Asia/Ho_Chi_Minh",
            viewport={"width": viewport[0], "height": viewport[1]},
            is_mobile=viewport[0] < 600,
            has_touch=viewport[0] < 600,
            reduced_motion="reduce",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", note_refusal)
        return page

    def note_refusal(message) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    yield make
    for context in contexts:
        context.close()
    assert refused == [], "the page broke its own Content-Security-Policy"


@pytest.fixture
def page(new_page):
    """A page whose browser prefers Vietnamese."""
    return new_page()


@pytest.fixture
def screenshot_dir(tmp_path):
    """docs/screenshots with UPDATE_SCREENSHOTS=1 (to refresh the README's pictures),
    else a temporary folder: the pictures are taken either way."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        return SCREENSHOTS
    return tmp_path
