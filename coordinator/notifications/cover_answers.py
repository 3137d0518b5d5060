"""The one-tap links of cover offers and of the post-session ask, with the same tokens
as proposals' (links.issue_answer_token: one per message, stored as a hash, once, until
it expires). A cover offer's link names the seat's booking; the offer is the one made
to the message's recipient. Once someone took the seat, the others' links say so."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from coordinator.bookings import checkin, cover
from coordinator.bookings.models import Assignment, CoverOffer, CoverRequest, CoverStatus
from coordinator.extensions import db
from coordinator.notifications.answers import TOKEN_SHAPE, Link, LinkProblem, describe
from coordinator.notifications.links import find_answer_token
from coordinator.notifications.models import AnswerToken, Notification
from coordinator.sessions.models import SessionStatus, TrainingSession


def _ended_code(status: CoverStatus) -> str:
    """The link page's code for the way a request ended: the rules' own (cover.ENDED)."""
    return cover.ENDED.get(status, cover.ENDED[CoverStatus.CLOSED])[0]


def link_kind(token: str) -> str | None:
    """The kind of message a token's links came in (None: no such token)."""
    row = find_answer_token(token) if TOKEN_SHAPE.fullmatch(token) else None
    if row is None:
        return None
    return db.session.scalar(
        sa.select(Notification.kind).where(Notification.id == row.notification_id)
    )


def _token(token: str, now: datetime) -> tuple[AnswerToken, Notification]:
    row = find_answer_token(token) if TOKEN_SHAPE.fullmatch(token) else None
    if row is None:
        raise LinkProblem(404, "unknown")
    if row.used_at is not None:
        raise LinkProblem(410, "used")
    notification = db.session.get_one(Notification, row.notification_id)
    return row, notification


def open_offer(token: str, now: datetime) -> tuple[AnswerToken, CoverOffer, TrainingSession, dict]:
    """The offer behind a cover link, while it can be accepted (else LinkProblem)."""
    row, notification = _token(token, now)
    found = db.session.execute(
        sa.select(CoverOffer, CoverRequest)
        .join(CoverRequest, CoverRequest.id == CoverOffer.cover_request_id)
        .where(
            CoverRequest.assignment_id == row.assignment_id,
            CoverOffer.volunteer_id == notification.recipient_id,
        )
        .order_by(CoverRequest.id.desc())
        .limit(1)
    ).first()
    if found is None:
        raise LinkProblem(404, "unknown")
    offer, request = found
    session = db.session.get_one(TrainingSession, request.session_id)
    if session.status == SessionStatus.CANCELLED:
        raise LinkProblem(410, "session_cancelled", session.cancel_reason)
    if request.status != CoverStatus.OPEN:
        raise LinkProblem(410, _ended_code(CoverStatus(request.status)))
    if row.expires_at <= now or request.deadline <= now:
        raise LinkProblem(410, "expired")
    if offer.status != "offered":
        raise LinkProblem(410, "used")
    original = db.session.get_one(Assignment, request.assignment_id)
    return row, offer, session, describe(Link(row, notification.kind, original, session))


def answer_offer(token: str, action: str, now: datetime) -> None:
    """Take the seat or say no (flushes). A DomainError from the rules propagates (the
    caller rolls back: the token stays unspent); a seat taken meanwhile is a LinkProblem."""
    row, offer, _, _ = open_offer(token, now)
    db.session.refresh(row, with_for_update=True)  # two clicks at once: one wins
    if row.used_at is not None:
        raise LinkProblem(410, "used")
    try:
        if action == "accept":
            cover.accept_offer(offer, now)
        else:
            cover.decline_offer(offer, now)
    except cover.CoverEnded as ended:
        raise LinkProblem(410, _ended_code(ended.cover_status)) from None
    row.used_at, row.action = now, action
    db.session.flush()


def open_ask(token: str, now: datetime) -> tuple[AnswerToken, Assignment, TrainingSession, dict]:
    """The booking behind a post-session ask's link."""
    row, notification = _token(token, now)
    if row.expires_at <= now:
        raise LinkProblem(410, "expired")
    assignment = db.session.get_one(Assignment, row.assignment_id)
    session = db.session.get_one(TrainingSession, assignment.session_id)
    if session.status == SessionStatus.CANCELLED:
        raise LinkProblem(410, "session_cancelled", session.cancel_reason)
    return row, assignment, session, describe(Link(row, notification.kind, assignment, session))


def confirm_came(token: str, now: datetime) -> Assignment:
    """ "I came": the volunteer's own word, which pre-fills the lead's sheet (flushes)."""
    row, assignment, _, _ = open_ask(token, now)
    db.session.refresh(row, with_for_update=True)
    if row.used_at is not None:
        raise LinkProblem(410, "used")
    checkin.self_report(assignment, now)
    row.used_at, row.action = now, "accept"
    db.session.flush()
    return assignment
