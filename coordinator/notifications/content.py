"""What one message says, read at sending time: is it still worth sending, and the plain
facts (`Letter`) the templates turn into words.

Staff (volunteers) learn the access needs the session must cover, as needs and never
with a name; participants' messages carry public session data only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings import cover
from coordinator.bookings.checkin import checkin_window
from coordinator.bookings.models import Assignment, Registration
from coordinator.bookings.operations import staffing
from coordinator.calendar import feeds, queries
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.notifications import confirmations, ladder, links, preferences, recipients
from coordinator.notifications.kinds import KINDS, PARTICIPANT, VOLUNTEER, answerable
from coordinator.notifications.models import Notification
from coordinator.notifications.planning import DIGEST_EVENTS
from coordinator.notifications.recipients import Recipient
from coordinator.participants import way_back
from coordinator.people.models import ParticipantPrivate, Volunteer
from coordinator.phones import e164_or_none
from coordinator.sessions.models import SessionRole, TrainingSession
from coordinator.vocabularies.terms import vocabulary


@dataclass(frozen=True)
class SessionFacts:
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    ward_name: str
    cancel_reason: str | None
    url: str


@dataclass(frozen=True)
class DigestEntry:
    occurred_at: datetime
    session_title: str
    session_starts_at: datetime
    volunteer_name: str
    role: str
    declined: bool
    late: bool
    reason: str | None
    expired: bool = False


@dataclass(frozen=True)
class Letter:
    """Everything a message shows, as plain values."""

    notification_id: int
    kind: str
    recipient: Recipient
    written_at: datetime
    preferences_url: str
    unsubscribe_url: str | None = None
    session: SessionFacts | None = None
    role: str | None = None
    needs: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    answer_urls: dict[str, str] | None = None
    answer_expires_at: datetime | None = None
    choice_url: str | None = None  # the short link to a page with both answers (SMS)
    lead_phone: str | None = None  # the session's lead, for the 2-hour reminder
    unconfirmed: tuple[tuple[str, str], ...] = ()  # (volunteer, role) not confirmed
    unfilled: tuple[tuple[str, int, int], ...] = ()  # (role, confirmed, needed)
    digest: tuple[DigestEntry, ...] = ()
    calendar: bytes | None = None


def labels(name: str, locale: str) -> dict[str, str]:
    """Code -> label of a vocabulary (roles, needs) in the recipient's language."""
    english = locale == "en"
    return {
        t["code"]: (t["label_en"] or t["label"]) if english else t["label"]
        for t in vocabulary(name)
    }


def _booking(row: Notification, session: TrainingSession) -> Assignment | Registration | None:
    """The booking a message is about: the live one, or for a cancellation notice the one
    the cancellation ended (its role still names the seat in the message)."""
    ended = row.kind == "session_cancelled"
    if row.recipient_kind == PARTICIPANT:
        statuses = ("registered", "cancelled") if ended else ("registered",)
        return db.session.scalar(
            sa.select(Registration)
            .where(
                Registration.session_id == session.id,
                Registration.participant_id == row.recipient_id,
                Registration.status.in_(statuses),
            )
            .order_by(Registration.id.desc())
            .limit(1)
        )
    if row.assignment_id is not None:
        return db.session.get(Assignment, row.assignment_id)
    statuses = ("confirmed", "cancelled") if ended else ("confirmed",)
    return db.session.scalar(
        sa.select(Assignment)
        .where(
            Assignment.session_id == session.id,
            Assignment.volunteer_id == row.recipient_id,
            Assignment.status.in_(statuses),
        )
        .order_by(Assignment.id.desc())
        .limit(1)
    )


def unfilled_roles(session: TrainingSession) -> list[tuple[str, int, int]]:
    """(role, confirmed, needed) for each role not yet fully confirmed (a proposal holds
    a seat but is no one's promise yet)."""
    return [
        (role["role"], role["confirmed"], role["needed"])
        for role in staffing(session)
        if role["confirmed"] < role["needed"]
    ]


def _why_not(row: Notification, session: TrainingSession | None, booking, now) -> str | None:
    """Why this message is no longer worth sending, or None."""
    kind = KINDS[row.kind]
    if session is None:
        return "no_session"
    if kind.code == "attendance_ask":  # after the session: the one kind sent then
        return attendance_ask_void(session, booking, now)
    if kind.code == "session_cancelled":
        return None if session.status == "cancelled" else "not_cancelled"
    if session.status != "published":
        return "session_closed"
    if session.starts_at <= now:
        return "session_started"
    if kind.reminder and ladder.reminder_at(kind.code, session.starts_at) != row.scheduled_for:
        return "moved"  # the planner drops these; this catches a job that ran first
    if kind.code == "unfilled_roles":
        return None if unfilled_roles(session) else "filled"
    if kind.code == "unconfirmed_volunteers":
        if ladder.unconfirmed_list_at(session.starts_at) != row.scheduled_for:
            return "moved"
        return None if confirmations.unconfirmed([session]) else "all_confirmed"
    if kind.code == "cover_offer":
        return (
            None if cover.offer_for_notice(row.assignment_id, row.recipient_id) else "cover_ended"
        )
    if kind.code == "cover_unfilled":
        return None if booking is not None and booking.status == "confirmed" else "not_booked"
    wanted = {
        "proposal": ("proposed",),
        "proposal_expired": ("expired",),
        "cover_found": ("covered",),
    }.get(kind.code, ("registered", "confirmed"))
    if booking is None or booking.status not in wanted:
        return "not_booked"
    return None


def attendance_ask_void(
    session: TrainingSession, booking: Assignment | Registration | None, now: datetime
) -> str | None:
    """Why "did you come?" is not worth asking: the session did not happen, the
    volunteer no longer holds the seat, or their attendance is already known."""
    if session.status == "cancelled":
        return "session_closed"
    if not isinstance(booking, Assignment) or booking.status != "confirmed":
        return "not_booked"
    if booking.attendance is not None or booking.self_reported_at is not None:
        return "already_recorded"
    return None if checkin_window(session).holds(now) else "checkin_closed"


def staff_needs(session: TrainingSession, locale: str) -> tuple[str, ...]:
    """The needs staff must cover: the session's and its registered participants'."""
    needs = set(session.participant_needs or [])
    for participant_needs in db.session.scalars(
        sa.select(ParticipantPrivate.accessibility_needs)
        .join(Registration, Registration.participant_id == ParticipantPrivate.participant_id)
        .where(Registration.session_id == session.id, Registration.status == "registered")
    ):
        needs.update(participant_needs or [])
    names = labels("accessibility_skills", locale)
    return tuple(sorted(names.get(code, code) for code in needs))


def digest_entries(user_id: int, until: datetime) -> tuple[DigestEntry, ...]:
    """Withdrawals (of a seat) and declines in the organizer's sessions in the 24 hours
    before `until`."""
    rows = db.session.execute(
        sa.select(DomainEvent, TrainingSession.title, TrainingSession.starts_at)
        .join(TrainingSession, TrainingSession.id == DomainEvent.aggregate_id)
        .where(
            DomainEvent.aggregate_type == "session",
            DomainEvent.type.in_(DIGEST_EVENTS),
            TrainingSession.organizer_id == user_id,
            DomainEvent.occurred_at > until - timedelta(days=1),
            DomainEvent.occurred_at <= until,
        )
        .order_by(DomainEvent.occurred_at, DomainEvent.id)
    ).all()
    events = [r for r in rows if r[0].payload.get("previous_status") != "waitlisted"]
    ids = {event.payload.get("volunteer_id") for event, _, _ in events}
    names = dict(
        db.session.execute(
            sa.select(Volunteer.id, Volunteer.full_name).where(Volunteer.id.in_(ids))
        ).all()
    )
    return tuple(
        DigestEntry(
            occurred_at=event.occurred_at,
            session_title=title,
            session_starts_at=starts_at,
            volunteer_name=names.get(event.payload.get("volunteer_id"), "?"),
            role=event.payload.get("role", ""),
            declined=event.type == "assignment.declined",
            late=bool(event.payload.get("late")),
            reason=event.reason,
            expired=event.type == "assignment.expired",
        )
        for event, title, starts_at in events
    )


def lead_phone(session: TrainingSession) -> str | None:
    """The confirmed lead's phone (E.164), for the short reminder before the start."""
    phone = db.session.scalar(
        sa.select(Volunteer.phone)
        .join(Assignment, Assignment.volunteer_id == Volunteer.id)
        .join(SessionRole, SessionRole.id == Assignment.role_id)
        .where(
            Assignment.session_id == session.id,
            Assignment.status == "confirmed",
            SessionRole.role == "lead",
        )
        .order_by(Assignment.id)
        .limit(1)
    )
    return e164_or_none(phone)


def _facts(session: TrainingSession, locale: str) -> SessionFacts:
    ward = db.session.get(Ward, session.ward)
    ward_name = (
        ward.name_en
        if locale == "en" and ward and ward.name_en
        else ward.name
        if ward
        else session.ward
    )
    return SessionFacts(
        id=session.id,
        title=session.title,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        venue=session.venue,
        ward_name=ward_name,
        cancel_reason=session.cancel_reason,
        url=links.session_url(session.id),
    )


def _calendar(session: TrainingSession, role: str | None, locale: str) -> bytes:
    """The session as a one-event calendar, with the UID of the subscribed feeds so a
    calendar that has it updates it instead of adding a copy."""
    ward = db.session.get(Ward, session.ward)
    event = feeds.FeedEvent(
        session_id=session.id,
        title=session.title,
        description=session.description or "",
        venue=session.venue,
        ward_name=ward.name if ward else session.ward,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        status=session.status,
        cancel_reason=session.cancel_reason,
        sequence=session.sequence,
        changed_at=session.updated_at,
        role=role,
    )
    # queries._feed fills base URL, zone and organizer address as the feeds do.
    feed = queries._feed(
        f"notification-session-{session.id}", session.title, session.title, [event], locale
    )
    return feeds.render(feed)


def prepare(row: Notification, now: datetime) -> Letter | str:
    """The letter for a scheduled row, or the reason it should be dropped."""
    recipient = recipients.find(row.recipient_kind, row.recipient_id)
    if isinstance(recipient, str):
        return recipient
    if not preferences.is_enabled(row.recipient_kind, row.recipient_id, row.kind):
        return "opted_out"
    kind = KINDS[row.kind]
    base = {
        "notification_id": row.id,
        "kind": row.kind,
        "recipient": recipient,
        "written_at": row.scheduled_for or row.created_at,
        "preferences_url": links.preferences_url(row.recipient_kind, row.recipient_id),
        "unsubscribe_url": (
            links.unsubscribe_url(row.recipient_kind, row.recipient_id, row.kind)
            if kind.optional
            else None
        ),
    }
    if row.kind == "organizer_digest":
        entries = digest_entries(row.recipient_id, row.scheduled_for)
        roles = labels("roles", recipient.locale)  # the payload holds the role's code
        entries = tuple(replace(e, role=roles.get(e.role, e.role)) for e in entries)
        return Letter(**base, digest=entries) if entries else "empty"
    if row.kind == "registration_links":
        participant_ids = way_back.reached_at(recipient.phone) if recipient.phone else []
        if not participant_ids:
            return "nothing_live"
        return Letter(**base, choice_url=way_back.list_url(participant_ids, base["written_at"]))
    session = db.session.get(TrainingSession, row.session_id) if row.session_id else None
    booking = _booking(row, session) if session is not None else None
    reason = _why_not(row, session, booking, now)
    if reason is not None:
        return reason
    locale = recipient.locale
    role = booking.role.role if isinstance(booking, Assignment) else None
    extra = {}
    if row.recipient_kind == VOLUNTEER:
        extra["role"] = labels("roles", locale).get(role, role) if role else None
        extra["needs"] = staff_needs(session, locale)
    if answerable(row.kind, row.recipient_kind) and isinstance(booking, Assignment):
        # From the booking, not the sending time: a retry sends the same links.
        expires = ladder.answer_expires_at(row.kind, booking.answer_by, session.starts_at)
        if booking.answer_by is None and row.kind == "proposal":
            days = timedelta(days=current_app.config["NOTIFICATION_ANSWER_LINK_DAYS"])
            expires = min(base["written_at"] + days, session.starts_at)
        token = links.issue_answer_token(row, expires, booking.id)
        extra["answer_urls"] = {a: links.answer_url(token, a) for a in links.ANSWER_ACTIONS}
        extra["answer_expires_at"] = expires
        extra["choice_url"] = links.choice_url(token)
    if row.kind == "proposal":
        extra["reasons"] = tuple(booking.reasons or ())
    if row.kind == "reminder_2h":
        extra["lead_phone"] = lead_phone(session)
    if row.kind == "unconfirmed_volunteers":
        roles = labels("roles", locale)
        extra["unconfirmed"] = tuple(
            (u.volunteer_name, roles.get(u.role, u.role))
            for u in confirmations.unconfirmed([session])
        )
    if row.kind == "cover_offer":
        _offer, request = cover.offer_for_notice(row.assignment_id, row.recipient_id)
        token = links.issue_answer_token(row, request.deadline)
        extra["answer_urls"] = {a: links.answer_url(token, a) for a in links.ANSWER_ACTIONS}
        extra["answer_expires_at"] = request.deadline
    if row.kind == "attendance_ask":
        expires = checkin_window(session).closes
        token = links.issue_answer_token(row, expires)
        extra["answer_urls"] = {"came": links.answer_url(token, "accept")}
        extra["answer_expires_at"] = expires
    if row.kind == "unfilled_roles":
        roles = labels("roles", locale)
        extra["unfilled"] = tuple((roles.get(r, r), c, n) for r, c, n in unfilled_roles(session))
    if kind.attach_calendar:
        extra["calendar"] = _calendar(session, role, locale)
    return Letter(**base, session=_facts(session, locale), **extra)
