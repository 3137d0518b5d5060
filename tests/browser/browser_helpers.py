"""What the browser tests share: where Chromium and axe-core are, handing the database to
the live server, and the checks every page must pass (axe-core, lang, one h1, skip link,
visible focus)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coordinator.extensions import db
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
BLOCKING_IMPACTS = ("serious", "critical")


def missing_for_browser() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not AXE.exists():
        missing.append("tests/js/node_modules/axe-core (npm ci --prefix tests/js)")
    return missing


# A developer without Chromium or axe-core still runs the rest; CI installs both, so
# there the browser tests must run.
needs_browser = pytest.mark.skipif(
    bool(missing_for_browser()) and not os.environ.get("CI"),
    reason="browser tests need " + " and ".join(missing_for_browser() or ["nothing"]),
)


def hand_over() -> None:
    """End the test's own transaction before the browser acts: the server's threads have
    their own sessions, and on SQLite an open transaction here holds the write lock."""
    db.session.commit()
    db.session.remove()


def log_in(page, email: str, password: str = PASSWORD) -> None:
    """Log in through the (Vietnamese) login form and wait for the landing page."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe_violations(page) -> list[dict]:
    """Run axe-core (from disk, no network) on the page as it is now: its default rules
    plus WCAG 2.2's target size (people with motor impairments use these pages)."""
    # Evaluated through the DevTools protocol, outside the page: an injected <script> tag
    # would be inline script, which the pages' Content-Security-Policy rightly refuses.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """() => axe.run(document, {
          resultTypes: ['violations'], rules: {'target-size': {enabled: true}}})"""
    )
    return result["violations"]


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def strict_axe(page) -> list[dict]:
    """axe-core's WCAG 2.0-2.2 A/AA and best-practice rules, WCAG 2.2's target size too:
    every violation, whatever its impact."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """(tags) => axe.run(document, {resultTypes: ['violations'],
          runOnly: {type: 'tag', values: tags}, rules: {'target-size': {enabled: true}}})""",
        AXE_TAGS,
    )
    return result["violations"]


def phone_problems(page, name: str) -> list[str]:
    """On a phone: the header within 100 px, and every button (and button-like link) at
    least 44 px high."""
    found = page.evaluate(
        """() => ({
          header: document.querySelector('.site-header').getBoundingClientRect().height,
          small: [...document.querySelectorAll('button, .button, summary')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
            .map(e => e.outerHTML.slice(0, 80)),
          wide: document.documentElement.scrollWidth > window.innerWidth,
        })"""
    )
    problems = []
    if found["header"] > 100:
        problems.append(f"{name}: the header is {found['header']:.0f} px high")
    if found["small"]:
        problems.append(f"{name}: targets under 44 px: {found['small']}")
    if found["wide"]:
        problems.append(f"{name}: the page scrolls sideways")
    return problems


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"      {' '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def focused(page) -> dict:
    """The focused element and the computed style that makes its focus visible."""
    return page.evaluate(
        """() => {
          const e = document.activeElement, s = getComputedStyle(e);
          return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'),
                  cls: e.className, outline: s.outlineStyle, width: s.outlineWidth,
                  left: e.getBoundingClientRect().left};
        }"""
    )


def assert_focus_visible(page) -> dict:
    element = focused(page)
    assert element["tag"] != "body", "nothing has the focus"
    assert element["outline"] != "none" and element["width"] != "0px", (
        f"focus is not visible on {element}"
    )
    return element


def page_problems(page, path: str, name: str) -> list[str]:
    """Everything wrong with the page at `path`, freshly loaded: a skip link that does not
    work, axe-core's serious and critical violations, a missing lang, not one h1."""
    page.goto(path)
    return [f"{name}: {p}" for p in skip_link_problems(page)] + problems_here(page, name)


def problems_here(page, name: str) -> list[str]:
    """axe-core's serious and critical violations, a missing lang, not exactly one h1."""
    problems = []
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        problems.append(f"{name} ({page.url}): axe-core found\n{describe(blocking)}")
    others = [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
    if others:  # shown with -s; they do not fail the test
        print(f"{name}: minor axe-core findings\n{describe(others)}")
    structure = page.evaluate(
        "() => ({lang: document.documentElement.lang, h1: document.querySelectorAll('h1').length})"
    )
    if structure["lang"] not in ("vi", "en"):
        problems.append(f"{name}: <html lang> is {structure['lang']!r}")
    if structure["h1"] != 1:
        problems.append(f"{name}: {structure['h1']} h1 elements")
    return problems


def skip_link_problems(page) -> list[str]:
    """On a freshly loaded page, the first Tab reaches a visible skip link and Enter
    moves the focus to <main>."""
    page.keyboard.press("Tab")
    link = focused(page)
    if "skip-link" not in link["cls"]:
        return [f"the first Tab focuses {link}, not the skip link"]
    problems = []
    if link["left"] < 0 or link["outline"] == "none":
        problems.append(f"the focused skip link is not visible: {link}")
    page.keyboard.press("Enter")
    target = focused(page)
    if (target["tag"], target["id"]) != ("main", "main"):
        problems.append(f"the skip link moved the focus to {target}, not <main>")
    return problems


def screenshot(page, directory: Path, name: str) -> Path:
    """A full-page PNG with a stable name (no caret, no animation)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path
