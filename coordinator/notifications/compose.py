"""A `Letter` becomes an email: plain text and HTML from the same words, the session as
an .ics attachment where it helps, and the headers mail clients act on.

Built with the standard library's `email.message.EmailMessage` (RFC 5322 headers,
MIME structure and encodings are its job, not ours).
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime

from flask import current_app

from coordinator.calendar.feeds import host_of
from coordinator.matching.reasons import reasons_text
from coordinator.notifications.content import Letter
from coordinator.notifications.texts import speaking, stored_reason, text, when
from coordinator.schemas import display_timezone
from coordinator.text import header_text

CALENDAR_FILENAME = "buoi-hoc.ics"


class UrlListHeader(UnstructuredHeader):
    """`<url>` headers (RFC 2369 List-Unsubscribe) are written as they are: the default
    folding would turn a long URL into an RFC 2047 encoded word no client can follow."""

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _mail_policy() -> policy.EmailPolicy:
    headers = HeaderRegistry()
    headers.map_to_type("list-unsubscribe", UrlListHeader)
    return policy.SMTP.clone(header_factory=headers)


MAIL_POLICY = _mail_policy()


def sender() -> str:
    configured = current_app.config.get("MAIL_DEFAULT_SENDER")
    if configured:
        return configured
    host = host_of(current_app.config["PUBLIC_BASE_URL"])
    return str(Address("Bình dân học vụ số", addr_spec=f"no-reply@{host}"))


def send_plain_mail(to: str, subject: str, body: str, name: str) -> None:
    """A plain-text mail that is no notification row (a link the person asked for), from
    our sender, delivered under `name` (the job's id, so a retry is the same mail). An
    address the server refuses for good gets nothing: retrying cannot help."""
    from coordinator.notifications import mailer

    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = subject
    message["From"] = sender()
    message["To"] = to
    message.set_content(body.rstrip("\n") + "\n")
    try:
        mailer.send(message, name)
    except mailer.PermanentFailure:
        return


def message_id(letter: Letter) -> str:
    """The same id on every attempt: a copy that slipped through shows as the same mail."""
    return f"<ntf-{letter.notification_id}@{host_of(current_app.config['PUBLIC_BASE_URL'])}>"


def _local(moment):
    return moment.astimezone(display_timezone())


def _subject(letter: Letter, lang: str) -> str:
    if letter.kind == "registration_links":
        return text(lang, "registration_links.subject")
    if letter.kind == "organizer_digest":
        return text(lang, "organizer_digest.subject", date=f"{_local(letter.written_at):%d/%m/%Y}")
    return text(lang, f"{letter.kind}.subject", title=letter.session.title)


def _intro(letter: Letter, lang: str) -> list[str]:
    if letter.kind.startswith("reminder_"):
        lines = [text(lang, f"{letter.kind}.{letter.recipient.kind}")]
        if letter.answer_urls and letter.kind == "reminder_1d":
            lines.append(text(lang, "reminder_1d.ask"))
        return lines
    if letter.kind == "unfilled_roles":
        days = max((letter.session.starts_at - letter.written_at).days, 0)
        return [text(lang, "unfilled_roles.intro", count=days)]
    lines = [text(lang, f"{letter.kind}.intro")]
    if letter.kind == "session_cancelled" and letter.session.cancel_reason:
        lines.append(f"{text(lang, 'label.reason')}: {letter.session.cancel_reason}")
    return lines


def _details(letter: Letter, lang: str) -> list[tuple[str, str]]:
    session = letter.session
    rows = [
        (text(lang, "label.when"), when(lang, _local(session.starts_at), _local(session.ends_at))),
        (text(lang, "label.where"), f"{session.venue}, {session.ward_name}"),
    ]
    if letter.role:
        rows.append((text(lang, "label.role"), letter.role))
    if letter.needs:
        rows.append((text(lang, "label.needs"), ", ".join(letter.needs)))
    return rows


def _digest_lines(letter: Letter, lang: str) -> list[str]:
    lines = []
    for entry in letter.digest:
        what = text(
            lang,
            "digest.expired"
            if entry.expired
            else "digest.declined"
            if entry.declined
            else "digest.withdrawn",
        )
        if entry.late:
            what += f" ({text(lang, 'digest.late')})"
        line = (
            f"{entry.volunteer_name} {what} · {entry.role} · {entry.session_title}"
            f" · {when(lang, _local(entry.session_starts_at))}"
        )
        if entry.reason:
            line += f" · {text(lang, 'label.reason')}: {stored_reason(entry.reason, lang)}"
        lines.append(line)
    return lines


def words(letter: Letter) -> dict:
    """Everything the message says, in the recipient's language, for both templates."""
    with speaking(letter.recipient.locale) as lang:
        return _words(letter, lang)


def _words(letter: Letter, lang: str) -> dict:
    name = letter.recipient.name
    body = {
        "lang": lang,
        "subject": _subject(letter, lang),
        "greeting": text(lang, "greeting", name=name) if name else text(lang, "greeting.anonymous"),
        "intro": [],
        "details": [],
        "list_title": None,
        "items": [],
        "actions": [],
        "notes": [],
        "footer": text(lang, "footer.why"),
        "preferences": (text(lang, "footer.preferences"), letter.preferences_url),
        "unsubscribe": None,
    }
    if letter.unsubscribe_url:
        body["unsubscribe"] = (text(lang, "footer.unsubscribe"), letter.unsubscribe_url)
    if letter.kind == "organizer_digest":
        body["intro"] = [text(lang, "organizer_digest.intro")]
        body["items"] = _digest_lines(letter, lang)
        return body
    body["intro"] = _intro(letter, lang)
    body["details"] = _details(letter, lang)
    if letter.unconfirmed:
        body["items"] = [f"{name} · {role}" for name, role in letter.unconfirmed]
    if letter.unfilled:
        body["items"] = [
            text(lang, "unfilled_roles.row", role=role, confirmed=confirmed, needed=needed)
            for role, confirmed, needed in letter.unfilled
        ]
    if letter.reasons:
        body["list_title"] = text(lang, "proposal.reasons")
        body["items"] = reasons_text(letter.reasons)  # codes or old rows: in `lang`
    if letter.answer_urls:
        body["actions"] = [
            (text(lang, f"action.{action}"), url) for action, url in letter.answer_urls.items()
        ]
        expires = when(lang, _local(letter.answer_expires_at))
        body["notes"].append(text(lang, "proposal.expires", expires=expires))
    body["actions"].append((text(lang, "action.view"), letter.session.url))
    if letter.calendar:
        body["notes"].append(text(lang, "calendar.note"))
    return body


def build(letter: Letter) -> EmailMessage:
    """The email for a letter; a retry builds the same message (only MIME boundaries vary)."""
    body = words(letter)
    env = current_app.jinja_env  # not render_template: no request, no page context
    message = EmailMessage(policy=MAIL_POLICY)
    # Every header made of words goes through header_text: a line break in a title or a
    # name must not fail a send (the email package refuses CR and LF in a header).
    message["Subject"] = header_text(body["subject"])
    message["From"] = header_text(sender())
    name = header_text(letter.recipient.name or "")
    message["To"] = Address(name, addr_spec=letter.recipient.address)
    message["Date"] = format_datetime(letter.written_at)
    message["Message-ID"] = message_id(letter)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    if letter.unsubscribe_url:  # RFC 8058 one-click unsubscribe (a POST to this URL)
        message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(env.get_template("notifications/email/message.txt").render(**body))
    message.add_alternative(
        env.get_template("notifications/email/message.html").render(**body), subtype="html"
    )
    if letter.calendar:
        message.add_attachment(
            letter.calendar,
            maintype="text",
            subtype="calendar",
            filename=CALENDAR_FILENAME,
            # UTF-8 said aloud: a text/* part without charset is US-ASCII (RFC 2046),
            # and Vietnamese titles and venues are not.
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    # Last: set_content() and add_attachment() move Content-* headers into the parts.
    message["Content-Language"] = body["lang"]
    return message
