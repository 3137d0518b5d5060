"""One-tap answers from the links in messages: the token is the credential; it works
once (a second tap shows the first answer), not after it expires, and not once the
session is cancelled. What an answer does depends on the message it came in, and goes
through the same booking operations as the pages, in the caller's transaction:

    proposal      accept: take the held seat       decline: the seat moves on
    reminder_1d   accept: "I am coming"            decline: withdraw (the seat moves on)

A kind registers its actions in ACTIONS (a cover offer can add its own)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import get_locale

from coordinator.bookings import operations
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.errors import Conflict
from coordinator.extensions import db
from coordinator.notifications.content import labels
from coordinator.notifications.links import ANSWER_ACTIONS, find_answer_token
from coordinator.notifications.models import AnswerToken, Notification
from coordinator.notifications.texts import ONE_TAP_REASON, language, when
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.web.i18n import DEFAULT_LOCALE

# 32 bytes, base64url without padding.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkProblem(Exception):
    """A link that cannot be used: `status` for the page, `code` for its words; a used
    link carries its first answer (`action`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        action: str | None = None,
        kind: str | None = None,
    ):
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.action, self.kind = action, kind


@dataclass(frozen=True)
class Actions:
    """What "accept" and "decline" do for the booking a kind of message is about (a
    booking that moved on meanwhile is refused by the operation: a 409 on the page)."""

    accept: Callable[[Assignment], object]
    decline: Callable[[Assignment], object]


def _coming(assignment: Assignment) -> None:
    """The booking stays as it is; the token remembers the yes (confirmations.py)."""
    if assignment.status != AssignmentStatus.CONFIRMED:
        raise Conflict(operations.REFUSALS[AssignmentStatus.WITHDRAWN][1], code="not_active")


ACTIONS: dict[str, Actions] = {
    "proposal": Actions(operations.accept, operations.decline),
    "reminder_1d": Actions(
        _coming, lambda assignment: operations.withdraw(assignment, ONE_TAP_REASON)
    ),
}


@dataclass(frozen=True)
class Link:
    token: AnswerToken
    kind: str
    assignment: Assignment
    session: TrainingSession


def open_link(token: str, now: datetime) -> Link:
    """The token's booking, if the link is still good (raises LinkProblem otherwise)."""
    row = find_answer_token(token) if TOKEN_SHAPE.fullmatch(token) else None
    if row is None:
        raise LinkProblem(404, "unknown")
    # Foreign keys (ON DELETE CASCADE) keep the token's message and booking in existence.
    kind = db.session.get_one(Notification, row.notification_id).kind
    assignment = db.session.get_one(Assignment, row.assignment_id)
    session = db.session.get_one(TrainingSession, assignment.session_id)
    # A cancelled session voids its answer links: no button, the reason instead.
    if session.status == SessionStatus.CANCELLED:
        raise LinkProblem(410, "session_cancelled", session.cancel_reason)
    if row.used_at is not None:
        raise LinkProblem(410, "used", action=row.action, kind=kind)
    if row.expires_at <= now:
        raise LinkProblem(410, "expired")
    actions = ACTIONS.get(kind)
    if actions is None:
        raise LinkProblem(404, "unknown")
    if assignment.status == AssignmentStatus.EXPIRED:
        raise LinkProblem(410, "proposal_expired")
    return Link(row, kind, assignment, session)


def describe(link: Link) -> dict:
    """What the confirmation page shows, in the page's language (the app's locale)."""
    locale = language(str(get_locale() or DEFAULT_LOCALE))
    zone = display_timezone()
    session, assignment = link.session, link.assignment
    starts, ends = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
    role = assignment.role.role
    return {
        "kind": link.kind,
        "title": session.title,
        "venue": session.venue,
        "when": when(locale, starts, ends),
        "role": labels("roles", locale).get(role, role),
    }


def answer(token: str, action: str, now: datetime) -> Link:
    """Act on the answer through the booking rules, and spend the token (flushes).

    A DomainError from the rules (the proposal was withdrawn, the session closed)
    propagates; the caller rolls back, so the token stays unspent."""
    if action not in ANSWER_ACTIONS:
        raise LinkProblem(404, "unknown")
    link = open_link(token, now)
    db.session.refresh(link.token, with_for_update=True)  # two taps at once: one wins
    if link.token.used_at is not None:
        raise LinkProblem(410, "used", action=link.token.action, kind=link.kind)
    actions = ACTIONS[link.kind]
    (actions.accept if action == "accept" else actions.decline)(link.assignment)
    link.token.used_at, link.token.action = now, action
    db.session.flush()
    return link
