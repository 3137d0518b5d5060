"""The words of every message: English msgids here, their Vietnamese in the catalogue
(translations/vi). A message is composed in its recipient's language, which need not be
the request's (jobs have none): `text(locale, key, **values)` renders one message under
`force_locale`, and a language we do not have falls back to Vietnamese.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from babel.dates import format_date
from flask import g, has_request_context
from flask_babel import force_locale, gettext, ngettext

from coordinator.web.labels import N_

LOCALES = ("vi", "en")

MESSAGES: dict[str, str] = {
    "booking_confirmed.subject": N_("Confirmed: %(title)s"),
    "booking_confirmed.intro": N_(
        "You have a place in this session. We will remind you before it starts."
    ),
    "reminder_1d.ask": N_(
        "Are you still coming? Tap “Confirm”, or “Can't make it” to give your place to "
        "someone else."
    ),
    "unconfirmed_volunteers.subject": N_("Not confirmed yet: %(title)s"),
    "unconfirmed_volunteers.intro": N_(
        "The session is tomorrow; these volunteers have not confirmed they will come:"
    ),
    "label.lead": N_("Lead"),
    "reminder_7d.subject": N_("In 7 days: %(title)s"),
    "reminder_1d.subject": N_("Tomorrow: %(title)s"),
    "reminder_2h.subject": N_("In 2 hours: %(title)s"),
    "reminder_7d.volunteer": N_("The session you signed up for is one week away."),
    "reminder_1d.volunteer": N_("The session you signed up for is tomorrow."),
    "reminder_2h.volunteer": N_("The session you signed up for starts in two hours."),
    "reminder_1d.participant": N_("The session you registered for is tomorrow."),
    "reminder_2h.participant": N_("The session you registered for starts in two hours."),
    "session_changed.subject": N_("Changed: %(title)s"),
    "session_changed.intro": N_("The session has a new time or place. The new details:"),
    "session_cancelled.subject": N_("Cancelled: %(title)s"),
    "session_cancelled.intro": N_("We are sorry: this session has been cancelled."),
    "waitlist_promoted.subject": N_("You have a place: %(title)s"),
    "waitlist_promoted.intro": N_(
        "A place opened up: you moved up from the waitlist and are confirmed."
    ),
    "proposal.subject": N_("Can you help? %(title)s"),
    "proposal.intro": N_("The organizers suggest you for this session. Will you take it?"),
    "proposal.expires": N_("The links work once, until %(expires)s."),
    "proposal.reasons": N_("Why you"),
    "proposal_expired.subject": N_("Proposal expired: %(title)s"),
    "proposal_expired.intro": N_(
        "The time to answer the proposal for this session has passed, so the seat went to "
        "someone else. You can still find another session that fits you."
    ),
    "assigned.subject": N_("You are assigned: %(title)s"),
    "assigned.intro": N_("An organizer has assigned you to this session."),
    "registration_promoted.subject": N_("You have a place: %(title)s"),
    "registration_promoted.intro": N_("A place opened up: your registration is confirmed."),
    "unfilled_roles.subject": N_("Roles still open: %(title)s"),
    "unfilled_roles.row": N_("%(role)s: %(confirmed)s of %(needed)s confirmed"),
    "organizer_digest.subject": N_("Digest for %(date)s: withdrawals and declines"),
    "registration_links.subject": N_("Your registrations for the digital skills sessions"),
    "organizer_digest.intro": N_("Withdrawals and declines in the last 24 hours:"),
    "digest.withdrawn": N_("withdrew"),
    "digest.declined": N_("declined"),
    "digest.expired": N_("did not answer a proposal in time"),
    "digest.late": N_("late"),
    "label.when": N_("When"),
    "label.where": N_("Where"),
    "label.role": N_("Role"),
    "label.needs": N_("Participants' access needs"),
    "label.reason": N_("Reason"),
    "action.view": N_("View the session"),
    "action.accept": N_("Confirm"),
    "action.decline": N_("Can't make it"),
    "action.choose": N_("Answer"),
    "calendar.note": N_("The attached calendar file (.ics) adds the session to your calendar."),
    "footer.why": N_("An automatic message from Bình dân học vụ số; please do not reply."),
    "footer.preferences": N_("Choose which emails you get"),
    "footer.unsubscribe": N_("Stop these emails"),
    "greeting": N_("Hello %(name)s,"),
    "greeting.anonymous": N_("Hello,"),
    "cover_offer.subject": N_("Can you take this seat? %(title)s"),
    "cover_offer.intro": N_(
        "A volunteer cannot come to this session, and you are among the best fits to take "
        "their place. The first to accept gets the seat."
    ),
    "cover_found.subject": N_("Someone is covering for you: %(title)s"),
    "cover_found.intro": N_(
        "A volunteer has taken your seat. You are no longer on this session. Thank you for "
        "telling us early!"
    ),
    "cover_unfilled.subject": N_("No cover found: %(title)s"),
    "cover_unfilled.intro": N_(
        "A volunteer asked for cover, and nobody took the seat by the deadline. They are "
        "still booked; contact them or assign someone else."
    ),
    "attendance_ask.subject": N_("Did you come? %(title)s"),
    "attendance_ask.intro": N_(
        "The session is over. Press the button below to confirm you came; the session's "
        "lead records attendance."
    ),
    "action.came": N_("I came"),
    "cover.expires": N_("The link works until %(expires)s."),
    # What each kind of message is, on the preferences and unsubscribe pages.
    "kind.booking_confirmed": N_("Confirmation when you have a place"),
    "kind.unconfirmed_volunteers": N_("Volunteers who have not confirmed (the evening before)"),
    "kind.reminder_7d": N_("Reminder 7 days before"),
    "kind.reminder_1d": N_("Reminder 1 day before"),
    "kind.reminder_2h": N_("Reminder 2 hours before"),
    "kind.session_changed": N_("A session changes time or place"),
    "kind.session_cancelled": N_("A session is cancelled"),
    "kind.waitlist_promoted": N_("Moved up from the waitlist"),
    "kind.proposal_expired": N_("Proposal expired"),
    "kind.proposal": N_("Proposals awaiting your answer"),
    "kind.assigned": N_("Assigned by an organizer"),
    "kind.registration_promoted": N_("A place from the waitlist"),
    "kind.unfilled_roles": N_("Upcoming sessions with open roles"),
    "kind.cover_offer": N_("Seats offered to you as cover"),
    "kind.cover_found": N_("Someone covers for you"),
    "kind.cover_unfilled": N_("Cover requests nobody took"),
    "kind.attendance_ask": N_("After a session: did you come?"),
    "kind.organizer_digest": N_("Daily digest of withdrawals and declines"),
}

# Messages with a count, as ngettext calls (the extractor reads both forms).
PLURALS: dict[str, Callable[..., str]] = {
    "unfilled_roles.intro": lambda n, **values: ngettext(
        "The session is %(num)d day away and still needs people:",
        "The session is %(num)d days away and still needs people:",
        n,
        **values,
    ),
}


def language(locale: str | None) -> str:
    return locale if locale in LOCALES else "vi"


@contextmanager
def speaking(locale: str | None) -> Iterator[str]:
    """Everything gettext says inside is in this language (a job has no request to pick
    one; a page keeps its own outside)."""
    lang = language(locale)
    with force_locale(lang):
        yield lang


def command_line_locale() -> str:
    """A command's language: the terminal's (LANG) when it is English, else Vietnamese.
    LANG describes the person at the terminal, not the service, so it is read here and
    not in config.py."""
    return "en" if os.environ.get("LANG", "").lower().startswith("en") else "vi"


def _language_chosen() -> bool:
    """A request picks its language; a job or command has one only under force_locale
    (the app's locale selector reads the request and fails without one)."""
    babel = getattr(g, "_flask_babel", None) if g else None
    return has_request_context() or getattr(babel, "babel_locale", None) is not None


def say(msgid: str, **values) -> str:
    """gettext anywhere: the request's language, the forced one, or a command line's."""
    if _language_chosen():
        return gettext(msgid, **values)
    with speaking(command_line_locale()):
        return gettext(msgid, **values)


def text(locale: str, key: str, count: int | None = None, **values) -> str:
    """One message in this language (`count` picks a plural form: PLURALS)."""
    with speaking(locale):
        if key in PLURALS:
            return PLURALS[key](count if count is not None else 0, **values)
        return gettext(MESSAGES[key], **values)


def in_language(stored: str, locale: str) -> str:
    """A reason stored before messages had one language ("Vietnamese / English") read in
    one: the half in this language; anything else as it is."""
    vietnamese, sep, english = stored.rpartition(" / ")
    if not sep or not vietnamese.strip() or not english.strip():
        return stored
    if not english.isascii() or vietnamese.isascii():
        return stored
    return english if language(locale) == "en" else vietnamese


def when(locale: str, starts: datetime, ends: datetime | None = None) -> str:
    """'Thứ Ba, 02/12/2026, 18:00–20:00' or 'Tuesday 2 December 2026, 18:00–20:00' (times
    already in the display zone); the names of days and months are Babel's (CLDR)."""
    lang = language(locale)
    pattern = "EEEE, dd/MM/y" if lang == "vi" else "EEEE d MMMM y"
    day = format_date(starts, pattern, locale=lang)
    hours = f"{starts:%H:%M}" + (f"–{ends:%H:%M}" if ends is not None else "")
    return f"{day}, {hours}"


# Reasons the system itself records (a withdrawal's `reason`): stored as the English
# msgid, so the audit holds one neutral text, and read in the reader's language.
ONE_TAP_REASON = N_("Answered from a message link")
SYSTEM_REASONS = frozenset({ONE_TAP_REASON})
# The same reasons as rows written before they moved into the catalogue.
LEGACY_REASONS = {
    "Trả lời qua liên kết trong tin nhắn / Answered from a message link": ONE_TAP_REASON,
}


def stored_reason(stored: str | None, locale: str | None = None) -> str | None:
    """A stored reason for a reader: the system's own in their language (`locale`, else
    the current one), anything a person typed as they typed it."""
    if not stored:
        return stored
    msgid = LEGACY_REASONS.get(stored, stored)
    if msgid not in SYSTEM_REASONS:
        return stored
    if locale is None:
        return gettext(msgid)
    with speaking(locale):
        return gettext(msgid)
