"""Answering a proposal from the links in its email: the token is the credential; it
works once, and not after it expires."""

from __future__ import annotations

import re
from datetime import datetime

from coordinator.bookings import operations
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.extensions import db
from coordinator.notifications.content import labels
from coordinator.notifications.links import ANSWER_ACTIONS, find_answer_token
from coordinator.notifications.models import AnswerToken, Notification
from coordinator.notifications.texts import LOCALES, when
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionStatus, TrainingSession

# 32 bytes, base64url without padding.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkProblem(Exception):
    """A link that cannot be used: `status` for the page, `code` for its words."""

    def __init__(self, status: int, code: str, message: str | None = None):
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def open_link(token: str, now: datetime) -> tuple[AnswerToken, Assignment, TrainingSession]:
    """The token's proposal, if the link is still good (raises LinkProblem otherwise)."""
    row = find_answer_token(token) if TOKEN_SHAPE.fullmatch(token) else None
    if row is None:
        raise LinkProblem(404, "unknown")
    if row.used_at is not None:
        raise LinkProblem(410, "used")
    if row.expires_at <= now:
        raise LinkProblem(410, "expired")
    # Cover offers' and post-session links have their own pages (cover_answers.py).
    if db.session.get_one(Notification, row.notification_id).kind != "proposal":
        raise LinkProblem(404, "unknown")
    assignment = db.session.get(Assignment, row.assignment_id)
    session = db.session.get(TrainingSession, assignment.session_id)
    # A cancelled session voids its answer links: no Accept button, the reason instead.
    if session.status == SessionStatus.CANCELLED:
        raise LinkProblem(410, "session_cancelled", session.cancel_reason)
    if assignment.status == AssignmentStatus.EXPIRED:
        raise LinkProblem(410, "proposal_expired")
    return row, assignment, session


def describe(assignment: Assignment, session: TrainingSession) -> dict:
    """What the confirmation page shows, in both languages."""
    zone = display_timezone()
    starts, ends = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
    role = assignment.role.role
    return {
        "title": session.title,
        "venue": session.venue,
        "when": {lang: when(lang, starts, ends) for lang in LOCALES},
        "role": {lang: labels("roles", lang).get(role, role) for lang in LOCALES},
    }


def answer(token: str, action: str, now: datetime) -> Assignment:
    """Accept or decline through the booking rules, and spend the token (flushes).

    A DomainError from the rules (the proposal was withdrawn, the session closed)
    propagates; the caller rolls back, so the token stays unspent."""
    if action not in ANSWER_ACTIONS:
        raise LinkProblem(404, "unknown")
    row, assignment, _ = open_link(token, now)
    db.session.refresh(row, with_for_update=True)  # two clicks at once: one wins
    if row.used_at is not None:
        raise LinkProblem(410, "used")
    if action == "accept":
        operations.accept(assignment)
    else:
        operations.decline(assignment)
    row.used_at = now
    db.session.flush()
    return assignment
