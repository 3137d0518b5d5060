"""The matcher's reasons in words, in the reader's language (the current locale).

The engine stores codes with values ("distance|0", "week|2": engine/explain.py); this is
where they become sentences, for the run's page and API, and for the volunteer's
proposal. Rows written before the codes hold "Vietnamese / English" text: a reader gets
the half in their language."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from babel.dates import get_day_names
from flask_babel import get_locale, gettext, ngettext

from coordinator.matching.engine.explain import SEPARATOR
from coordinator.notifications.texts import in_language, speaking
from coordinator.web.labels import N_

NEEDS = {
    "sign_language": N_("signs VSL"),
    "screen_reader": N_("knows screen readers"),
    "easy_read": N_("writes easy-read"),
    "low_vision": N_("supports low vision"),
    "mobility": N_("supports mobility"),
}
DISTANCES = {
    "0": N_("same ward"),
    "1": N_("neighbouring ward"),
    "far": N_("two wards away"),
}
PLAIN = {
    "expert": N_("expert"),
    "series": N_("already in this series"),
    "squad": N_("same squad as those booked"),
    "topic": N_("a preferred topic"),
    "nobody": N_("nobody has the skills, is free at that time and lives near enough"),
}


def _locale() -> str:
    return str(get_locale() or "vi")


def _need(code: str) -> str:
    return gettext(NEEDS[code]) if code in NEEDS else code


def _day(weekday: str) -> str:
    return get_day_names("wide", locale=_locale())[int(weekday) % 7]


def _all_busy(options: str, here: str) -> str:
    sentence = ngettext(
        "the one suitable volunteer is booked then or at their weekly limit",
        "all %(num)d suitable volunteers are booked then or at their weekly limit",
        int(options),
    )
    if int(here):
        sentence += (
            " ("
            + ngettext(
                "%(num)d already in another role here",
                "%(num)d already in another role here",
                int(here),
            )
            + ")"
        )
    return sentence


DECODERS: dict[str, Callable[..., str]] = {
    "need": _need,
    "distance": lambda distance: gettext(DISTANCES.get(distance, DISTANCES["far"])),
    "free": lambda day, span: gettext("free %(day)s %(span)s", day=_day(day), span=span),
    "free_next_day": lambda day, span: gettext(
        "free %(day)s %(span)s next day", day=_day(day), span=span
    ),
    "week": lambda week: ngettext(
        "%(num)d session this week", "%(num)d sessions this week", int(week)
    ),
    "no_free_needs": lambda needs: gettext(
        "no free volunteer who %(needs)s",
        needs=", ".join(_need(need) for need in needs.split(",")),
    ),
    "all_busy": _all_busy,
    **{code: (lambda msgid=msgid: gettext(msgid)) for code, msgid in PLAIN.items()},
}


def reason_text(stored: str) -> str:
    """One reason in the current language; an old two-language row, the reader's half."""
    code, *values = stored.split(SEPARATOR)
    decode = DECODERS.get(code)
    if decode is not None:
        try:
            return decode(*values)
        except (TypeError, ValueError, IndexError):  # a code this version cannot read
            return stored
    return in_language(stored, _locale())


def reasons_text(stored: Iterable[str], said: dict[str, str] | None = None) -> list[str]:
    """Each reason in the current language; `said` keeps the words of codes already read
    (a run of thousands of proposals repeats a few dozen codes)."""
    said = {} if said is None else said
    return [said.get(r) or said.setdefault(r, reason_text(r)) for r in stored or ()]


def reasons_in(locale: str | None, stored: Iterable[str]) -> list[str]:
    """The reasons in this language (a volunteer's, whatever the request's)."""
    with speaking(locale):
        return reasons_text(stored)
