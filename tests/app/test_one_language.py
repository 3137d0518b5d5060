"""People read one language and no codes: pages and error answers, in Vietnamese and in
English, hold no "vi / en" message and no raw vocabulary code or status."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask_babel import force_locale

from coordinator.errors import in_one_language
from coordinator.notifications.texts import LEGACY_REASONS
from tests.page_helpers import csrf_token, log_in, submit

# A Vietnamese word, " / ", an English word: a message in two languages at once.
BILINGUAL = re.compile(r"[^\x00-\x7f]\w*[.)]? / [A-Za-z]")
VIETNAMESE_LETTER = re.compile("[\u00c0-\u1ef9]")
RAW = re.compile(
    r"\b(sign_language|screen_reader|easy_read|low_vision|smartphone_basics|"
    r"online_public_services|cyber_safety|civil_servants|youth_disabilities|"
    r"accessible_toilet|hearing_loop|quiet_room|waitlisted|no_show)\b"
)
# Words a Vietnamese page must not show: a status or a rule left in English (an English
# page shows them as they are).
ENGLISH_ON_A_VIETNAMESE_PAGE = re.compile(
    r"\b(Registered|Waitlisted|Confirmed|Proposed)\b|Use a-z, 0-9 and _"
)


class _Words(HTMLParser):
    """The text a person reads: no tags, attributes, scripts or <code> samples."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("code", "script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("code", "script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.words.append(data.strip())


def _read(page: str) -> str:
    parser = _Words()
    parser.feed(page)
    return "\n".join(parser.words)


def _problems(words: str, locale: str) -> list[str]:
    patterns = [BILINGUAL, RAW] + ([ENGLISH_ON_A_VIETNAMESE_PAGE] if locale == "vi" else [])
    return [m.group(0) for pattern in patterns for m in pattern.finditer(words)]


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_pages_speak_one_language_without_codes(
    client, locale, make_user, make_session, make_volunteer
):
    session = make_session(participant_needs=["sign_language", "easy_read"])
    _volunteer_id, headers = make_volunteer(is_expert=True, accessibility_skills=["screen_reader"])
    client.post(f"/api/v1/sessions/{session['id']}/signups", json={"role": "lead"}, headers=headers)
    client.set_cookie("locale", locale)
    organizer = make_user("organizer")
    organizer.locale = locale
    from coordinator.extensions import db

    db.session.commit()
    log_in(client, organizer.email)
    found = {}
    for path in (
        "/",
        f"/sessions/{session['id']}",
        f"/organize/sessions/{session['id']}",
        f"/organize/sessions/{session['id']}/participants",
        "/organize/",
        "/organize/volunteers/import",
        "/no-such-page",
    ):
        response = client.get(path, headers={"Accept-Language": locale, "Accept": "text/html"})
        assert f'<html lang="{locale}"' in response.get_data(as_text=True), path
        problems = _problems(_read(response.get_data(as_text=True)), locale)
        if problems:
            found[path] = problems
    assert found == {}


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_api_errors_speak_one_language(client, locale, make_session, make_volunteer):
    session = make_session()
    _volunteer_id, headers = make_volunteer()
    headers = {**headers, "Accept-Language": locale}
    path = f"/api/v1/sessions/{session['id']}/signups"
    client.post(path, json={"role": "helper"}, headers=headers)
    answers = [
        client.post(path, json={"role": "helper"}, headers=headers),  # 409 twice
        client.get("/api/v1/sessions/99999", headers=headers),  # 404
        client.get("/api/v1/no-such-thing", headers=headers),  # werkzeug's 404
        client.delete("/api/v1/sessions", headers=headers),  # werkzeug's 405
        client.post(path, json={"role": 5}, headers=headers),  # 422
        client.post(
            "/api/v1/auth/tokens",
            json={"email": "a@b.vn", "password": "x" * 10},
            headers={"Accept-Language": locale},
        ),
    ]
    for answer in answers:
        body = answer.get_json()
        assert answer.status_code >= 400 and body["message"]
        assert not BILINGUAL.search(str(body)), body
        # Vietnamese has letters English lacks; an English answer has none of them.
        assert VIETNAMESE_LETTER.search(body["message"]) or locale == "en", body
        assert not VIETNAMESE_LETTER.search(str(body)) or locale == "vi", body


SIGNUP_ANSWERS = {
    "vi": (
        "Bạn đã đăng ký buổi này rồi.",
        ["Buổi này không có vai trò 'pilot' (các vai trò: lead, helper)."],
    ),
    "en": (
        "Already signed up for this session.",
        ["The session has no role 'pilot' (its roles: lead, helper)."],
    ),
}


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_booking_refusals_are_written_in_the_language_asked_for(
    client, locale, make_session, make_volunteer
):
    session = make_session()
    _volunteer_id, headers = make_volunteer()
    headers = {**headers, "Accept-Language": locale}
    path = f"/api/v1/sessions/{session['id']}/signups"
    assert client.post(path, json={"role": "helper"}, headers=headers).status_code == 201
    twice = client.post(path, json={"role": "helper"}, headers=headers)
    no_such_role = client.post(path, json={"role": "pilot"}, headers=headers)
    duplicate, role_messages = SIGNUP_ANSWERS[locale]
    assert (twice.status_code, twice.get_json()["message"]) == (409, duplicate)
    assert no_such_role.status_code == 422
    assert no_such_role.get_json()["messages"]["role"] == role_messages


PAGE_REFUSALS = {
    "vi": ("Bạn đã đăng ký buổi này rồi.", "Buổi học phải bắt đầu trong tương lai."),
    "en": ("Already signed up for this session.", "A session must start in the future."),
}


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_pages_flash_and_show_refusals_in_the_users_language(
    client, locale, make_user, make_session, make_volunteer, competences
):
    """A rule's refusal on a page (a flash, a message next to a field) is in the language
    the user chose."""
    from coordinator.extensions import db
    from coordinator.people.models import Volunteer

    session = make_session()
    volunteer_id, _headers = make_volunteer()
    volunteer = db.session.get(Volunteer, volunteer_id)
    volunteer.user.locale = locale
    organizer = make_user("organizer")
    organizer.locale = locale
    db.session.commit()
    twice, past = PAGE_REFUSALS[locale]

    log_in(client, volunteer.email)
    path = f"/me/sessions/{session['id']}/signup"
    for _attempt in range(2):
        submit(client, path, {"role": "helper"}, form_page=f"/sessions/{session['id']}")
    schedule = _read(client.get("/me/schedule").get_data(as_text=True))
    assert twice in schedule and not BILINGUAL.search(schedule)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/me/schedule")})
    log_in(client, organizer.email)
    form = {
        "title": "Buổi học",
        "venue": "Nhà văn hóa tổ 3",
        "starts_at": "2020-02-05T18:00",
        "duration_minutes": "90",
        "capacity": "30",
        "ward": "kim_lien",
        "competence_area": "1",
        "target_group": "students",
        "leads": "1",
        "helpers": "1",
        "interpreters": "0",
        "weekly_count": "1",
    }
    refused = submit(client, "/organize/sessions/new", form)
    assert refused.status_code == 422
    words = _read(refused.get_data(as_text=True))
    assert past in words and not BILINGUAL.search(words)


def test_a_two_language_message_is_read_in_the_readers_language(app):
    message = "Bạn đã đăng ký buổi này rồi / Already signed up."
    with app.test_request_context(), force_locale("en"):
        assert in_one_language(message) == "Already signed up."
        assert in_one_language({"role": [message]}) == {"role": ["Already signed up."]}
    with app.test_request_context(), force_locale("vi"):
        assert in_one_language(message) == "Bạn đã đăng ký buổi này rồi"
        assert in_one_language("Láng / Ô Chợ Dừa") == "Láng / Ô Chợ Dừa"  # one language
        assert in_one_language("Không rõ / Unknown: x") == "Không rõ / Unknown: x"  # kept whole


def test_a_bracket_is_never_cut_in_half(app):
    """A " / " inside one sentence is not where two languages meet."""
    inside = "Xung đột với buổi #12 'Tin học' (trùng giờ / overlaps)."
    with app.test_request_context(), force_locale("en"):
        assert in_one_language(inside) == inside
    clash = "Xung đột với buổi #12 'Tin học' (trùng giờ). / Clashes with session #12 (overlaps)."
    with app.test_request_context(), force_locale("en"):
        assert in_one_language(clash) == "Clashes with session #12 (overlaps)."
    with app.test_request_context(), force_locale("vi"):
        assert in_one_language(clash) == "Xung đột với buổi #12 'Tin học' (trùng giờ)."


# -- the code itself ---------------------------------------------------------------------

# Files that may still be written "Vietnamese / English": none, every message is a msgid.
NOT_YET_IN_ONE_LANGUAGE: tuple[str, ...] = ()
# A Vietnamese letter, later " / " and English words: a message in two languages at once.
TWO_LANGUAGES_IN_CODE = re.compile(r"[\u00c0-\u1ef9][^\n]*? / [A-Za-z'\"{(][\x00-\x7f]{3}")
ROOT = Path(__file__).resolve().parents[2]


def _strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each string in the code but docstrings; an f-string with its
    values as {}, and strings written in pieces as one (the parser joins them)."""
    tree = ast.parse(source)
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(value) for value in node.values)
            yield (
                node.lineno,
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values),
            )
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in skipped:
                yield node.lineno, node.value


def test_the_code_check_finds_two_languages_and_only_them():
    assert TWO_LANGUAGES_IN_CODE.search("Không rõ / Unknown: {}")
    assert TWO_LANGUAGES_IN_CODE.search("Gửi tệp với Content-Type: text/csv / Send the CSV.")
    assert not TWO_LANGUAGES_IN_CODE.search("Láng / Ô Chợ Dừa")  # two names, one language
    assert not TWO_LANGUAGES_IN_CODE.search("“%(value)s” is neither yes nor no (có / không).")
    found = list(_strings('x = ("Không rõ / "\n     f"Unknown: {y}")\n'))
    assert found == [(1, "Không rõ / Unknown: {}")]


def test_no_code_writes_a_message_in_two_languages():
    """Messages are English msgids with a Vietnamese translation in the catalogue."""
    found = []
    for path in sorted([*(ROOT / "coordinator").rglob("*.py"), *(ROOT / "jobs").rglob("*.py")]):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(NOT_YET_IN_ONE_LANGUAGE):
            continue
        for line, text in _strings(path.read_text(encoding="utf-8")):
            # Rows written before the catalogue are recognised by their old text.
            if text in LEGACY_REASONS:
                continue
            if TWO_LANGUAGES_IN_CODE.search(text):
                found.append(f"{name}:{line}: {text}")
    assert found == []
