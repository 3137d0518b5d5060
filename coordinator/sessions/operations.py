"""Training sessions: create (with weekly repeats), change, cancel, list."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from coordinator.bookings import counters
from coordinator.bookings.models import (
    LIVE_ASSIGNMENT,
    LIVE_REGISTRATION,
    Assignment,
    AssignmentStatus,
    Registration,
    RegistrationStatus,
)
from coordinator.bookings.operations import (
    close_cover_requests,
    promote_waitlist,
    record_event,
    require_transition,
)
from coordinator.competences.operations import require_competence
from coordinator.database import utcnow
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.operations import require_ward
from coordinator.people.scopes import require_in_scope, scoped, visible_or_404
from coordinator.schemas import display_timezone
from coordinator.sessions.models import (
    MAX_DURATION,
    SessionRole,
    SessionSeries,
    SessionStatus,
    TrainingSession,
)
from coordinator.vocabularies.terms import unknown_codes

# Changes a subscribed calendar must show raise the iCalendar SEQUENCE (RFC 5545 3.8.7.4).
CALENDAR_FIELDS = {"starts_at", "ends_at", "ward", "venue", "status", "title"}


NOT_FOUND = _l("Session not found.")


def get_session(session_id: int) -> TrainingSession:
    session = db.session.get(TrainingSession, session_id)
    if session is None:
        raise NotFound(NOT_FOUND)
    return session


def organized_session(session_id: int) -> TrainingSession:
    """A session as its organizers see it (bookings, participants, audit): outside the
    caller's units it answers like a missing id."""
    session = get_session(session_id)
    visible_or_404(session.ward, NOT_FOUND)
    return session


def organized_sessions() -> sa.Select[tuple[TrainingSession]]:
    """The sessions of the caller's units, as a query to narrow further."""
    return scoped(sa.select(TrainingSession), TrainingSession.ward)


def _check_references(data: dict[str, Any]) -> None:
    if "ward" in data:
        require_ward(data["ward"], current=True)
    if "competence_area" in data:
        require_competence(data["competence_area"])
    errors = {}
    for field, vocabulary in (
        ("venue_accessibility", "venue_accessibility"),
        ("participant_needs", "accessibility_skills"),
    ):
        unknown = unknown_codes(vocabulary, data.get(field, []))
        if unknown:
            errors[field] = [_l("Unknown: %(codes)s.", codes=", ".join(unknown))]
    if errors:
        raise Invalid(_l("The input is invalid."), errors)


def _weekly_starts(
    starts_at: datetime, ends_at: datetime, count: int
) -> list[tuple[datetime, datetime]]:
    """The same local wall-clock time each week, whatever the zone's offset does."""
    zone = display_timezone()
    local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return [
        (
            (local_start.replace(tzinfo=None) + timedelta(weeks=n)).replace(tzinfo=zone),
            (local_end.replace(tzinfo=None) + timedelta(weeks=n)).replace(tzinfo=zone),
        )
        for n in range(count)
    ]


def create_sessions(data: dict[str, Any], organizer_id: int | None) -> list[TrainingSession]:
    """One session, or a weekly series when `repeat` is given; all or nothing."""
    data = dict(data)
    _check_references(data)
    require_in_scope(data["ward"])
    if data["starts_at"] <= utcnow():
        raise Invalid.field("starts_at", _l("A session must start in the future."))
    repeat = data.pop("repeat", None)
    roles = data.pop("roles", [])
    count = repeat["weekly"] if repeat else 1
    series_id = None
    if count > 1:
        series = SessionSeries(weekly_count=count)
        db.session.add(series)
        db.session.flush()
        series_id = series.id
    sessions = []
    for starts_at, ends_at in _weekly_starts(data.pop("starts_at"), data.pop("ends_at"), count):
        session = TrainingSession(
            **data,
            starts_at=starts_at,
            ends_at=ends_at,
            series_id=series_id,
            organizer_id=organizer_id,
            roles=[SessionRole(**role) for role in roles],
        )
        db.session.add(session)
        sessions.append(session)
    db.session.flush()
    for session in sessions:
        outbox.record(
            "session.published",
            "session",
            session.id,
            {"session_id": session.id, "ward": session.ward, "series_id": series_id},
        )
    return sessions


def _apply_roles(session: TrainingSession, roles: list[dict[str, Any]]) -> bool:
    """Upsert roles by name; True when anything changed. A count below those confirmed,
    or dropping a role that has bookings, is refused: people would silently lose their
    place. Everything is checked before anything changes."""
    wanted = {r["role"]: r for r in roles}
    existing = {r.role: r for r in session.roles}
    for role in existing.values():
        if role.role not in wanted and (role.taken > 0 or _has_bookings(role.id)):
            raise Conflict(
                _l("The role '%(role)s' has bookings.", role=role.role),
                {"roles": [_l("'%(role)s' has bookings; cancel them first.", role=role.role)]},
            )
        spec = wanted.get(role.role)
        if spec is not None and spec["count"] < role.taken:
            raise Conflict(
                _l(
                    "The role '%(role)s' already has %(taken)s confirmed.",
                    role=role.role,
                    taken=role.taken,
                ),
                {
                    "roles": [
                        _l(
                            "'%(role)s': count below the %(taken)s confirmed.",
                            role=role.role,
                            taken=role.taken,
                        )
                    ]
                },
            )
    changed = False
    for role in list(session.roles):
        if role.role not in wanted:
            session.roles.remove(role)
            changed = True
    for name, spec in wanted.items():
        current = existing.get(name)
        if current is None:
            session.roles.append(SessionRole(**spec))
            changed = True
        elif (current.count, current.required_skills) != (spec["count"], spec["required_skills"]):
            current.count = spec["count"]
            current.required_skills = spec["required_skills"]
            changed = True
    return changed


def _has_bookings(role_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(Assignment.id)
            .where(Assignment.role_id == role_id, Assignment.status.in_(LIVE_ASSIGNMENT))
            .limit(1)
        )
        is not None
    )


def update_session(session: TrainingSession, changes: dict[str, Any]) -> TrainingSession:
    """Change a session; the version rises, and the calendar sequence when it shows.
    A request that changes nothing changes nothing: no new version, no event."""
    changes = dict(changes)
    reason = changes.pop("reason", None)
    require_in_scope(session.ward)
    if session.status != SessionStatus.PUBLISHED:
        raise Conflict(_l("The session is cancelled or over."))
    _check_references(changes)
    if "ward" in changes:
        require_in_scope(changes["ward"])
    starts = changes.get("starts_at", session.starts_at)
    ends = changes.get("ends_at", session.ends_at)
    if ends <= starts:
        raise Invalid.field("ends_at", _l("ends_at must be after starts_at."))
    if ("starts_at" in changes or "ends_at" in changes) and ends - starts > MAX_DURATION:
        raise Invalid.field("ends_at", _l("A session lasts at most 12 hours."))
    if "starts_at" in changes and starts <= utcnow():
        raise Invalid.field("starts_at", _l("A session must start in the future."))
    registered = session.registered_count
    if "capacity" in changes and changes["capacity"] < registered:
        raise Conflict(
            _l("%(count)s already registered.", count=registered),
            {"capacity": [_l("Below the %(count)s registered participants.", count=registered)]},
        )
    previous_ward = session.ward
    roles = changes.pop("roles", None)
    roles_changed = roles is not None and _apply_roles(session, roles)
    changed = sorted(k for k, v in changes.items() if getattr(session, k) != v)
    if not changed and not roles_changed:
        return session
    for name in changed:
        setattr(session, name, changes[name])
    if roles_changed:
        changed.append("roles")
    session.version += 1
    if CALENDAR_FIELDS & set(changed):
        session.sequence += 1
    session.updated_at = utcnow()
    db.session.flush()
    payload = {"session_id": session.id, "ward": session.ward, "fields": changed}
    if previous_ward != session.ward:
        payload["previous_ward"] = previous_ward
    outbox.record("session.changed", "session", session.id, payload, reason=reason)
    if roles_changed:
        _fill_new_seats(session)
    return session


def _fill_new_seats(session: TrainingSession) -> None:
    """More seats in a role go to its waitlist at once, in the same transaction."""
    for role in session.roles:
        if role.id is not None and role.count > role.taken:
            promote_waitlist(role)


class CancelScope(StrEnum):
    """What a cancellation reaches: the one session, or it and the rest of its series."""

    OCCURRENCE = "occurrence"
    REST_OF_SERIES = "rest_of_series"


def cancel_session(
    session: TrainingSession, reason: str, scope: CancelScope = CancelScope.OCCURRENCE
) -> TrainingSession:
    """Cancel for good (there is no un-cancelling); it stays visible with the reason. With
    `rest_of_series`, the later sessions of its weekly series that are still published and
    not started are cancelled too, all in this one transaction."""
    require_in_scope(session.ward)
    _require_cancellable(session)
    for target in cancellation_targets(session, scope):
        require_in_scope(target.ward)
        _cancel_one(target, reason, series_of=session.id if target is not session else None)
    return session


def cancellation_targets(session: TrainingSession, scope: CancelScope) -> list[TrainingSession]:
    """The session, and with `rest_of_series` the later ones of its weekly series that
    are still published and not started."""
    targets = [session]
    if scope == CancelScope.REST_OF_SERIES and session.series_id is not None:
        targets += db.session.scalars(
            sa.select(TrainingSession)
            .where(
                TrainingSession.series_id == session.series_id,
                TrainingSession.id != session.id,
                TrainingSession.starts_at > session.starts_at,
                TrainingSession.starts_at > utcnow(),
                TrainingSession.status == SessionStatus.PUBLISHED,
            )
            .order_by(TrainingSession.starts_at, TrainingSession.id)
        )
    return targets


def cancellation_reach(session: TrainingSession, scope: CancelScope) -> dict[str, int]:
    """Who a cancellation would tell, for the confirmation page: the sessions it ends and
    the distinct volunteers (booked, asked or waiting) and participants (registered or
    waiting) in them; one count query each."""
    ids = [target.id for target in cancellation_targets(session, scope)]
    volunteers = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Assignment.volunteer_id))).where(
            Assignment.session_id.in_(ids), Assignment.status.in_(LIVE_ASSIGNMENT)
        )
    )
    participants = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Registration.participant_id))).where(
            Registration.session_id.in_(ids), Registration.status.in_(LIVE_REGISTRATION)
        )
    )
    return {"sessions": len(ids), "volunteers": volunteers or 0, "participants": participants or 0}


def _require_cancellable(session: TrainingSession) -> None:
    if session.status == SessionStatus.CANCELLED:
        raise Conflict(_l("The session is already cancelled."))
    if session.status == SessionStatus.COMPLETED:
        raise Conflict(_l("The session has already taken place."))


def _cancel_one(session: TrainingSession, reason: str, series_of: int | None) -> None:
    """One session cancelled: every live booking and registration ends `cancelled` with
    the session's reason, its seats and places are free (none is live), its reminders are
    dropped and everyone who was booked, asked or waiting is told (session.cancelled)."""
    db.session.execute(
        sa.select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update()
    ).all()
    counters.lock_roles(role.id for role in session.roles)
    db.session.refresh(session)
    _require_cancellable(session)
    now = utcnow()
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    session.cancelled_at = now
    session.version += 1
    session.sequence += 1
    session.updated_at = now
    assignments = list(
        db.session.scalars(
            sa.select(Assignment)
            .where(Assignment.session_id == session.id, Assignment.status.in_(LIVE_ASSIGNMENT))
            .order_by(Assignment.id)
        )
    )
    registrations = list(
        db.session.scalars(
            sa.select(Registration)
            .where(
                Registration.session_id == session.id,
                Registration.status.in_(LIVE_REGISTRATION),
            )
            .order_by(Registration.id)
        )
    )
    for assignment in assignments:
        require_transition(assignment, AssignmentStatus.CANCELLED)
        previous = assignment.status
        assignment.status = AssignmentStatus.CANCELLED
        assignment.waitlist_position = assignment.answer_by = None
        assignment.decided_at = now
        db.session.flush()
        record_event(
            "assignment.cancelled",
            assignment,
            reason,
            previous_status=str(previous),
            by="session_cancelled",
        )
    close_cover_requests([a.id for a in assignments], now)
    for registration in registrations:
        previous = registration.status
        registration.status = RegistrationStatus.CANCELLED
        registration.waitlist_position = None
    for role in session.roles:
        role.taken = 0
    session.registered_count = 0
    db.session.flush()
    for registration in registrations:
        outbox.record(
            "registration.cancelled",
            "session",
            session.id,
            {
                "session_id": session.id,
                "registration_id": registration.id,
                "participant_id": registration.participant_id,
                "status": registration.status,
                "ward": session.ward,
                "by": "session_cancelled",
            },
            reason=reason,
        )
    payload: dict[str, Any] = {
        "session_id": session.id,
        "ward": session.ward,
        # Ids only: who was booked, asked or waiting, and so is told.
        "assignment_ids": [a.id for a in assignments],
        "registration_ids": [r.id for r in registrations],
    }
    if series_of is not None:
        payload["with_session_id"] = series_of
    outbox.record("session.cancelled", "session", session.id, payload, reason=reason)


def list_sessions(args: dict[str, Any]) -> tuple[list[TrainingSession], int]:
    query = sa.select(TrainingSession)
    for field in ("ward", "target_group", "status", "competence_area"):
        if args.get(field):
            query = query.where(getattr(TrainingSession, field) == args[field])
    if args.get("from_"):
        query = query.where(TrainingSession.ends_at >= args["from_"])
    if args.get("to"):
        query = query.where(TrainingSession.starts_at < args["to"])
    total = db.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())
    ).scalar_one()
    rows = db.session.scalars(
        query.order_by(TrainingSession.starts_at, TrainingSession.id)
        .options(sa.orm.selectinload(TrainingSession.roles))
        .limit(args["limit"])
        .offset(args["offset"])
    ).all()
    return list(rows), total
