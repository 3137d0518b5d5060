"""Languages: Vietnamese by default, English on request, remembered per user.

Strings in code and templates are English msgids wrapped in gettext; the Vietnamese
catalog (translations/vi) is complete (a test checks), so Vietnamese users never see a
fallback. Dates, times and numbers are formatted by Babel for the chosen locale.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel import numbers
from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, format_datetime, format_decimal, get_locale, refresh
from flask_login import current_user

from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import find_ward

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
API_PREFIX = "/api/"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"

babel = Babel()


def select_locale() -> str:
    """The user's saved choice, else this browser session's, else the browser's; outside
    a request (a job, a command) Vietnamese unless `force_locale` says otherwise. An API
    call that names a language in Accept-Language gets it: a program asks per call (a
    saved choice is "vi" until changed, and a browser sends the header on every page)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if request.path.startswith(API_PREFIX) and request.accept_languages:
        asked = request.accept_languages.best_match(LOCALES)
        if asked is not None:
            return asked
    user = current_user if current_user and current_user.is_authenticated else None
    if user is not None and user.locale in LOCALES:
        return user.locale
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["COORDINATOR_TIMEZONE"]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel keeps the chosen locale in flask.g, which lives as long as the app
    # context; a context can outlive a request (a test or a command that pushed one), so
    # each request chooses afresh and leaves nothing chosen behind.
    app.before_request(_forget_locale)
    app.teardown_request(_forget_locale)
    app.jinja_env.filters["when"] = lambda value: format_datetime(value, "EEE dd/MM/yyyy HH:mm")
    app.jinja_env.filters["clock"] = lambda value: format_datetime(value, "HH:mm")
    # An answer deadline: "18:00 thứ Năm 10/12".
    app.jinja_env.filters["deadline"] = lambda value: format_datetime(value, "HH:mm EEEE dd/MM")
    app.jinja_env.filters["number"] = number
    app.context_processor(lambda: {"current_locale": str(get_locale() or DEFAULT_LOCALE)})
    app.jinja_env.filters["ward_name"] = ward_name
    from coordinator.web.forms import fields_in_error

    app.jinja_env.globals["fields_in_error"] = fields_in_error  # the error summary's


@functools.lru_cache(maxsize=8192)
def _integer(value: int, locale: str) -> str:
    return numbers.format_decimal(value, locale=locale)


def number(value: Any) -> str:
    """A number for the reader's locale (Babel's format_decimal); integers memoised (a
    progress page formats a thousand figures, most of them the same few values)."""
    if type(value) is int:
        return _integer(value, str(get_locale() or DEFAULT_LOCALE))
    return format_decimal(value)


def _forget_locale(_error: BaseException | None = None) -> None:
    refresh()


def prefetch_ward_names(codes: Iterable[str]) -> None:
    """Read the names of these units in one query, for a page that lists many rows
    (`ward_name` would read each code on its own)."""
    names: dict[str, tuple[str, str | None] | None] = g.setdefault("ward_names", {})
    wanted = sorted({c for c in codes if isinstance(c, str)} - set(names))
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found = {
            code: (name, english)
            for code, name, english in db.session.execute(
                sa.select(Ward.code, Ward.name, Ward.name_en).where(Ward.code.in_(chunk))
            )
        }
        for code in chunk:
            names[code] = found.get(code)


def ward_name(code: str) -> str:
    """A ward's name (English where known and chosen) instead of its code. Each code is
    read at most once per request (the map has thousands of units: a page reads only
    the names it shows)."""
    names: dict[str, tuple[str, str | None] | None] = g.setdefault("ward_names", {})
    if code not in names:
        ward = find_ward(code) if isinstance(code, str) else None
        names[code] = (ward.name, ward.name_en) if ward is not None else None
    found = names[code]
    if found is None:
        return code
    name, english = found
    return english if english and str(get_locale()) == "en" else name
