"""The short forms of a letter for phones: the text of an SMS and the parameters of a ZNS
template. Public session facts only (title, time, place, role, a link): never needs,
names of others or contacts. The words are the email's (texts.py, the catalogue), in the
recipient's language."""

from __future__ import annotations

from coordinator.notifications.compose import _local, _subject
from coordinator.notifications.content import Letter
from coordinator.notifications.texts import speaking, text, when

SMS_MAX = 320  # two concatenated Unicode SMS at most (eSMS counts 70 characters a part)


def _link(letter: Letter) -> str:
    """The link that matters: the short page with both one-tap answers (or the list of
    one's registrations), else the session."""
    if letter.choice_url:
        return letter.choice_url
    return letter.session.url if letter.session is not None else letter.preferences_url


def sms_text(letter: Letter) -> str:
    """One line: subject, time and place (the 2-hour reminder: and the lead's phone),
    the link that matters (both answers, or the session)."""
    with speaking(letter.recipient.locale) as lang:
        return _sms_text(letter, lang)


def _sms_text(letter: Letter, lang: str) -> str:
    parts = [_subject(letter, lang)]
    session = letter.session
    if session is not None:
        parts.append(when(lang, _local(session.starts_at), _local(session.ends_at)))
        parts.append(f"{session.venue}, {session.ward_name}")
        if letter.lead_phone:
            parts.append(f"{text(lang, 'label.lead')}: {letter.lead_phone}")
    link = _link(letter)
    body = ". ".join(p for p in parts if p)
    return f"{body[: SMS_MAX - len(link) - 1]} {link}"


def zns_data(letter: Letter) -> dict[str, str]:
    """The template parameters every ZNS template of ours uses (docs/operations.md lists
    them): title, time, place, role, url; messages with one-tap answers add
    confirm_url and cancel_url (the template's two buttons), the 2-hour reminder adds
    lead_phone. Zalo caps parameters (30 to 200 characters by type), so each is cut to
    its registered length."""
    session = letter.session
    if session is None:
        with speaking(letter.recipient.locale) as lang:
            return {"title": _subject(letter, lang)[:100], "url": _link(letter)}
    data = {
        "title": session.title[:100],
        "time": f"{_local(session.starts_at):%H:%M %d/%m/%Y}",
        "place": f"{session.venue}, {session.ward_name}"[:200],
        "role": (letter.role or "")[:30],
        "url": _link(letter),
    }
    if letter.answer_urls:
        data["confirm_url"] = letter.answer_urls["accept"]
        data["cancel_url"] = letter.answer_urls["decline"]
    if letter.lead_phone:
        data["lead_phone"] = letter.lead_phone[:30]
    return data
