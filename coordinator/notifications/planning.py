"""What to send, to whom, and when: notification rows planned from domain events.

Reminders and the organizer's unfilled-roles alert are *reconciled*: every event about
a session recomputes the reminders its bookings call for and compares them with the
rows already planned, so a moved session moves its pending reminders (the old rows are
dropped, new ones planned at the new version), a cancelled one drops them, and running
the same event twice plans nothing new. Notices (changed, cancelled, promoted, proposed,
assigned) are planned for "now". Nothing here sends mail or talks to RQ; it flushes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings.models import Assignment, Registration
from coordinator.clock import now as clock_now
from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications import ladder
from coordinator.notifications.kinds import (
    NOTIFIED_CHANGES,
    PARTICIPANT,
    REMINDERS,
    USER,
    VOLUNTEER,
)
from coordinator.notifications.models import Notification
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession

DIGEST_EVENTS = ("signup.withdrawn", "assignment.declined", "assignment.expired")
# Planned per session for its organizer, reconciled like reminders.
ORGANIZER_ALERTS = ("unfilled_roles", "unconfirmed_volunteers")


def clock() -> datetime:
    """Now, from NOTIFICATION_CLOCK when set (tests drive time with it), else the real time."""
    return clock_now()


@dataclass
class Planned:
    """Rows a transaction planned or dropped; their RQ jobs follow after the commit."""

    scheduled: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.scheduled or self.dropped)

    def extend(self, other: Planned) -> None:
        self.scheduled += other.scheduled
        self.dropped += other.dropped


def dedup_key(
    recipient_kind: str, recipient_id: int, kind: str, *, about: str, session_id: int | None
) -> str:
    """What makes two messages the same message. `about` is the session version
    ("v3"), the booking ("a17", "r4") or the day of a digest ("d2026-12-01")."""
    return f"{recipient_kind}:{recipient_id}:{kind}:s{session_id or 0}:{about}"


def _live_exists(key: str) -> bool:
    return (
        db.session.scalar(
            sa.select(Notification.id).where(
                Notification.dedup_key == key, Notification.status != "dropped"
            )
        )
        is not None
    )


def _plan(
    recipient: tuple[str, int],
    kind: str,
    at: datetime,
    about: str,
    session: TrainingSession | None,
    assignment_id: int | None = None,
) -> list[int]:
    """A new scheduled row (its id in a list), or none when a live row says the same."""
    session_id = session.id if session is not None else None
    key = dedup_key(*recipient, kind, about=about, session_id=session_id)
    if _live_exists(key):
        return []
    row = Notification(
        recipient_kind=recipient[0],
        recipient_id=recipient[1],
        kind=kind,
        session_id=session_id,
        session_version=session.version if session is not None else 0,
        assignment_id=assignment_id,
        dedup_key=key,
        status="scheduled",
        scheduled_for=at,
    )
    db.session.add(row)
    db.session.flush()
    return [row.id]


def plan_requested(
    recipient: tuple[str, int], kind: str, *, about: str, at: datetime, per_day: int
) -> list[int]:
    """A message the person just asked for (`about` names the request, so the same request
    handled twice plans one), unless `per_day` of this kind were already planned for them
    in the last 24 hours."""
    recent = db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.recipient_kind == recipient[0],
            Notification.recipient_id == recipient[1],
            Notification.kind == kind,
            Notification.status != "dropped",
            Notification.created_at > utcnow() - timedelta(days=1),
        )
    )
    return [] if recent >= per_day else _plan(recipient, kind, at, about, None)


def _drop(rows, reason: str) -> list[int]:
    for row in rows:
        row.status, row.reason = "dropped", reason
    db.session.flush()
    return [row.id for row in rows]


def confirmed_volunteers(session_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Assignment.volunteer_id)
            .where(Assignment.session_id == session_id, Assignment.status == "confirmed")
            .order_by(Assignment.volunteer_id)
        )
    )


def registered_participants(session_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Registration.participant_id)
            .where(Registration.session_id == session_id, Registration.status == "registered")
            .order_by(Registration.participant_id)
        )
    )


def unfilled_alert_lead() -> timedelta:
    return timedelta(days=current_app.config["NOTIFICATION_UNFILLED_ALERT_DAYS"])


def wanted_reminders(session: TrainingSession) -> dict[tuple[str, int, str], datetime]:
    """(recipient kind, id, kind) -> when, for every reminder the session calls for now
    (the ladder's times), and the organizer's alerts."""
    if session.status != "published":
        return {}
    wanted = {}
    volunteers = confirmed_volunteers(session.id)
    for audience, people in (
        (VOLUNTEER, volunteers),
        (PARTICIPANT, registered_participants(session.id)),
    ):
        for kind in (k for k in REMINDERS if audience in k.audiences):
            at = ladder.reminder_at(kind.code, session.starts_at)
            for person_id in people:
                wanted[(audience, person_id, kind.code)] = at
    if session.organizer_id is not None and any(role.count > 0 for role in session.roles):
        alert_at = session.starts_at - unfilled_alert_lead()
        wanted[(USER, session.organizer_id, "unfilled_roles")] = alert_at
    if session.organizer_id is not None and volunteers:
        list_at = ladder.unconfirmed_list_at(session.starts_at)
        wanted[(USER, session.organizer_id, "unconfirmed_volunteers")] = list_at
    return wanted


def reconcile_session(session: TrainingSession, now: datetime) -> Planned:
    """Make the session's planned reminders (and unfilled alert) match its bookings and
    times: keep what still fits (due or not), drop what does not, plan what is missing
    and still ahead."""
    codes = [k.code for k in REMINDERS] + list(ORGANIZER_ALERTS)
    rows = db.session.scalars(
        sa.select(Notification).where(
            Notification.session_id == session.id,
            Notification.kind.in_(codes),
            Notification.status != "dropped",
        )
    ).all()
    wanted = wanted_reminders(session)
    stale = [
        r
        for r in rows
        if r.status == "scheduled"
        and wanted.get((r.recipient_kind, r.recipient_id, r.kind)) != r.scheduled_for
    ]
    reason = "session_cancelled" if session.status == "cancelled" else "no_longer_due"
    planned = Planned(dropped=_drop(stale, reason))
    # Kept rows, and reminders already sent (or given up) for the same start time.
    done = {(r.recipient_kind, r.recipient_id, r.kind, r.scheduled_for) for r in rows} - {
        (r.recipient_kind, r.recipient_id, r.kind, r.scheduled_for) for r in stale
    }
    for (audience, person_id, kind), at in sorted(wanted.items()):
        if at > now and (audience, person_id, kind, at) not in done:
            planned.scheduled += _plan(
                (audience, person_id), kind, at, f"v{session.version}", session
            )
    return planned


def _session_notice(
    session: TrainingSession,
    kind: str,
    now: datetime,
    everyone: bool,
    cancelled: dict | None = None,
) -> Planned:
    """A notice to the session's booked people (and, when `everyone`, to those waiting
    or asked too), once per session version. A cancellation ends every booking in its
    own transaction, so its event names them (`cancelled`: the event's payload)."""
    volunteer_statuses = ("confirmed", "proposed", "waitlisted") if everyone else ("confirmed",)
    participant_statuses = ("registered", "waitlisted") if everyone else ("registered",)
    cancelled = cancelled or {}
    volunteers = db.session.scalars(
        sa.select(Assignment.volunteer_id).where(
            Assignment.session_id == session.id,
            sa.or_(
                Assignment.status.in_(volunteer_statuses),
                Assignment.id.in_(cancelled.get("assignment_ids", [])),
            ),
        )
    ).all()
    participants = db.session.scalars(
        sa.select(Registration.participant_id).where(
            Registration.session_id == session.id,
            sa.or_(
                Registration.status.in_(participant_statuses),
                Registration.id.in_(cancelled.get("registration_ids", [])),
            ),
        )
    ).all()
    recipients = [(VOLUNTEER, v) for v in sorted(set(volunteers))]
    recipients += [(PARTICIPANT, p) for p in sorted(set(participants))]
    planned = Planned()
    for recipient in recipients:
        planned.scheduled += _plan(recipient, kind, now, f"v{session.version}", session)
    return planned


def _booking_notice(session: TrainingSession, kind: str, now: datetime, payload: dict) -> Planned:
    if "assignment_id" in payload:
        recipient, about = (VOLUNTEER, payload["volunteer_id"]), f"a{payload['assignment_id']}"
    else:
        recipient, about = (
            (PARTICIPANT, payload["participant_id"]),
            f"r{payload['registration_id']}",
        )
    return Planned(_plan(recipient, kind, now, about, session, payload.get("assignment_id")))


def digest_time(moment: datetime) -> datetime:
    """The first daily digest time (NOTIFICATION_DIGEST_HOUR, local) after `moment`."""
    zone = display_timezone()
    local = moment.astimezone(zone)
    hour = time(current_app.config["NOTIFICATION_DIGEST_HOUR"])
    at = datetime.combine(local.date(), hour, tzinfo=zone)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), hour, tzinfo=zone)
    return at


def _digest(session: TrainingSession, event: DomainEvent) -> Planned:
    """The organizer's digest for the day this withdrawal or decline falls in."""
    if session.organizer_id is None or event.payload.get("previous_status") == "waitlisted":
        return Planned()
    at = digest_time(event.occurred_at)
    about = f"d{at.date().isoformat()}"
    return Planned(_plan((USER, session.organizer_id), "organizer_digest", at, about, None))


BOOKING_NOTICES = {
    "waitlist.promoted": "waitlist_promoted",
    "assignment.proposed": "proposal",
    "assignment.expired": "proposal_expired",
    "assignment.created": "assigned",
    "registration.promoted": "registration_promoted",
    # The ladder starts with a confirmation (an organizer's is "assigned").
    "signup.confirmed": "booking_confirmed",
    "assignment.accepted": "booking_confirmed",
    "assignment.covered": "cover_found",
    "assignment.cover_taken": "booking_confirmed",  # the newcomer who took the seat
}


def _cover_notices(session: TrainingSession, event: DomainEvent, now: datetime) -> Planned:
    """A cover request's offers (one per volunteer asked, each with its own links), and
    the organizer's alert when it lapsed (once per request: the key names it)."""
    payload = event.payload
    planned = Planned()
    if event.type == "cover.requested":
        offered = zip(payload["offer_ids"], payload["offered_volunteer_ids"], strict=True)
        for offer_id, volunteer_id in offered:
            planned.scheduled += _plan(
                (VOLUNTEER, volunteer_id),
                "cover_offer",
                now,
                f"o{offer_id}",
                session,
                payload["assignment_id"],
            )
    elif event.type == "cover.lapsed" and session.organizer_id is not None:
        planned.scheduled += _plan(
            (USER, session.organizer_id),
            "cover_unfilled",
            now,
            f"c{payload['cover_request_id']}",
            session,
            payload["assignment_id"],
        )
    return planned


def plan_for_event(event: DomainEvent, now: datetime) -> Planned:
    """The notifications one session or booking event calls for."""
    payload = event.payload or {}
    session_id = payload.get("session_id", event.aggregate_id)
    # Two events of one session plan one after the other (PostgreSQL). NO KEY UPDATE: a
    # booking that references the session (a foreign key) need not wait for us.
    session = db.session.get(TrainingSession, session_id, with_for_update={"key_share": True})
    if session is None:
        return Planned()
    planned = Planned()
    if event.type == "session.cancelled":
        planned.extend(reconcile_session(session, now))
        planned.extend(
            _session_notice(session, "session_cancelled", now, everyone=True, cancelled=payload)
        )
        return planned
    if event.type.startswith("cover."):
        planned.extend(_cover_notices(session, event, now))
    elif event.type == "session.changed" and NOTIFIED_CHANGES & set(payload.get("fields", [])):
        planned.extend(_session_notice(session, "session_changed", now, everyone=False))
    elif event.type in BOOKING_NOTICES:
        planned.extend(_booking_notice(session, BOOKING_NOTICES[event.type], now, payload))
    elif event.type == "assignment.matched":  # a matching run's proposals in the session
        for item in payload.get("proposed", []):
            planned.extend(_booking_notice(session, "proposal", now, item))
    if event.type in DIGEST_EVENTS:  # an expiry tells the volunteer and the organizer
        planned.extend(_digest(session, event))
    if session.starts_at > now:
        planned.extend(reconcile_session(session, now))
    return planned
