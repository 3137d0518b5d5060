"""Every form sent back with an error keeps what was typed (passwords aside, as GOV.UK
does), says so in the page title ("Lỗi: ") and opens with an error summary whose links
lead to the fields in error."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.page_helpers import log_in, text


class _Values(HTMLParser):
    """The values a page's form fields show: typed text, ticked boxes, chosen options."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.ids: set[str] = set()
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str | None) -> None:
        if name:
            self.values.setdefault(name, []).append(value or "")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self._add(a.get("name"), a.get("value"))
        elif tag == "input" and a.get("type") not in ("submit", "hidden", "password"):
            self._add(a.get("name"), a.get("value"))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value"))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._add(self._textarea, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            if not self.values[self._textarea][-1]:  # HTML drops a textarea's first newline
                data = data.removeprefix("\r\n").removeprefix("\n")
            self.values[self._textarea][-1] += data


def _shown(page: str) -> _Values:
    parser = _Values()
    parser.feed(page)
    return parser


PARTICIPANT = {
    "full_name": "Nguyễn Văn An",
    "ward": "kim_lien",
    "target_group": "residents",
    "accessibility_needs": ["easy_read"],
    "contact": "091 234",  # read as a phone number, and too short for one
    "guardian_contact": "",
}


def _cases(make_session, make_user, make_volunteer, client):
    """(who logs in, path, fields typed: one of them wrong)."""
    session = make_session()
    return {
        "register": (
            None,
            "/register",
            {"full_name": "Trần Thị Mai", "email": "not-an-email", "home_ward": "kim_lien"},
        ),
        "login": (None, "/login", {"email": "ai-do@example", "password": "x"}),
        "forgot password": (None, "/forgot-password", {"email": "ai-do@example"}),
        "participant registration": (
            None,
            f"/sessions/{session['id']}/register",
            {**PARTICIPANT},  # no consent
        ),
        "organizer registers a participant": (
            "organizer",
            f"/organize/sessions/{session['id']}/participants",
            {**PARTICIPANT},  # an organizer needs no consent box
        ),
        "new session": (
            "organizer",
            "/organize/sessions/new",
            {
                "title": "",
                "description": "Dòng một\nDòng hai",
                "venue": "Nhà văn hóa tổ 3",
                "starts_at": "2030-02-05T18:00",
                "duration_minutes": "90",
                "capacity": "30",
                "ward": "kim_lien",
                "competence_area": "1",
                "target_group": "students",
                "venue_accessibility": ["wheelchair"],
                "participant_needs": ["sign_language"],
                "leads": "1",
                "helpers": "3",
                "interpreters": "1",
                "weekly_count": "2",
            },
        ),
        "profile": (
            "volunteer",
            "/me/profile",
            {
                "full_name": "Lê Thị Hoa",
                "phone": "12345",
                "home_ward": "kim_lien",
                "languages": ["vi", "en"],
                "max_sessions_per_week": "3",
                "availability": ["1:evening", "5:morning"],
            },
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "register",
        "login",
        "forgot password",
        "participant registration",
        "organizer registers a participant",
        "new session",
        "profile",
    ],
)
def test_a_failed_submission_keeps_every_value_and_summarises_the_errors(
    case, client, make_session, make_user, make_volunteer, wards, competences
):
    who, path, typed = _cases(make_session, make_user, make_volunteer, client)[case]
    if who == "organizer":
        log_in(client, make_user("organizer").email)
    elif who == "volunteer":
        from coordinator.extensions import db
        from coordinator.people.models import Volunteer

        volunteer_id, _ = make_volunteer()
        log_in(client, db.session.get(Volunteer, volunteer_id).email)
    form_page = text(client.get(path))

    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', form_page).group(1)
    extra = re.search(r'name="form_token" value="([^"]+)"', form_page)
    data = {**typed, "csrf_token": csrf}
    if extra:
        data["form_token"] = extra.group(1)
    response = client.post(path, data=data)
    page = text(response)
    assert 400 <= response.status_code < 500, page
    assert re.search(r"<title>Lỗi: (?!Lỗi)", page), "the title says there is an error, once"
    assert 'id="error-summary"' in page and "Đã có lỗi" in page
    shown = _shown(page)
    links = re.findall(r'<li><a href="#([^"]+)">', page.split('id="error-summary"')[1])
    assert links and all(link in shown.ids for link in links), links
    for name, value in typed.items():
        if name == "password":
            continue  # never sent back to the browser
        expected = sorted(value) if isinstance(value, list) else [value]
        got = (
            sorted(shown.values.get(name, []))
            if isinstance(value, list)
            else shown.values.get(name)
        )
        assert got == expected, (name, got, expected)
