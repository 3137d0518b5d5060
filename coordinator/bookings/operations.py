"""Sign-ups, withdrawals, answers to proposals, direct and squad assignments.

Capacity holds by construction: a seat is taken only by
`UPDATE session_roles SET taken = taken + 1 WHERE id = :id AND taken < count`
(atomic on every database, and the CHECK taken <= count stands behind it). Rows are
locked roles first, then volunteers, each in id order, so concurrent bookings queue
instead of deadlocking (PostgreSQL); SQLite serialises writers with BEGIN IMMEDIATE.
Every change writes a domain event in the same transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator import clock
from coordinator.bookings import counters, rules
from coordinator.bookings.models import (
    LIVE_ASSIGNMENT,
    Assignment,
    CoverOffer,
    CoverOfferStatus,
    CoverRequest,
    CoverStatus,
)
from coordinator.bookings.models import AssignmentStatus as S
from coordinator.bookings.rules import clash_refusal, time_refusal
from coordinator.database import utcnow
from coordinator.errors import Conflict, Forbidden, NotFound, joined
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.paging import count as count_rows
from coordinator.people.models import User, Volunteer
from coordinator.people.scopes import require_in_scope, scoped, visible_or_404
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.squads.models import Squad


def record_event(
    type_: str, assignment: Assignment, reason: str | None = None, **extra: Any
) -> None:
    session = db.session.get(TrainingSession, assignment.session_id)
    payload = {
        "session_id": assignment.session_id,
        "assignment_id": assignment.id,
        "volunteer_id": assignment.volunteer_id,
        "role": assignment.role.role,
        "status": assignment.status,
        "ward": session.ward if session else None,
        **extra,
    }
    outbox.record(type_, "session", assignment.session_id, payload, reason=reason)


# Which status a booking may move to from which (docs/states.md draws them). The ends
# (declined, withdrawn, cancelled, expired, covered) are final.
TRANSITIONS: dict[S, frozenset[S]] = {
    S.PROPOSED: frozenset({S.CONFIRMED, S.DECLINED, S.WITHDRAWN, S.EXPIRED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.DECLINED, S.WITHDRAWN, S.CANCELLED, S.COVERED}),
    S.WAITLISTED: frozenset({S.CONFIRMED, S.WITHDRAWN, S.CANCELLED}),
}
# The refusal each target gives when it does not apply: (code, message).
REFUSALS: dict[S, tuple[str, LazyString]] = {
    S.CONFIRMED: ("not_proposed", _l("There is no proposal to accept.")),
    S.DECLINED: ("not_proposed", _l("Nothing to decline here.")),
    S.WITHDRAWN: ("not_active", _l("This booking is no longer active.")),
    S.EXPIRED: ("not_proposed", _l("There is no pending proposal.")),
    S.CANCELLED: ("not_active", _l("This booking is no longer active.")),
}


def can_move(assignment: Assignment, target: S) -> bool:
    """Whether the booking may move to `target` now (a volunteer's own sign-up is
    withdrawn, not declined; only a proposal is accepted)."""
    current = S(assignment.status)
    if target == S.DECLINED and assignment.source == "self":
        return False
    if target == S.CONFIRMED and current != S.PROPOSED:
        return False  # promotion from the waitlist is promote_waitlist's, not an answer
    return target in TRANSITIONS.get(current, frozenset())


def require_transition(assignment: Assignment, target: S) -> None:
    """409 naming the booking's state when it cannot move to `target`."""
    if not can_move(assignment, target):
        code, message = REFUSALS.get(target, ("illegal_transition", _l("Not possible.")))
        raise Conflict(
            joined((message, f"({assignment.status} → {target.value})")),
            {"status": [f"{assignment.status} → {target.value}"]},
            code=code,
        )


def close_cover_requests(assignment_ids: Iterable[int], now: datetime) -> None:
    """Bookings that ended otherwise (withdrawn, declined, their session cancelled) take
    their open cover requests with them: closed, offers voided (bookings/cover.py)."""
    ids = list(assignment_ids)
    if not ids:
        return
    closing = sa.select(CoverRequest.id).where(
        CoverRequest.assignment_id.in_(ids), CoverRequest.status == CoverStatus.OPEN
    )
    db.session.execute(
        sa.update(CoverOffer)
        .where(
            CoverOffer.cover_request_id.in_(closing),
            CoverOffer.status == CoverOfferStatus.OFFERED,
        )
        .values(status=CoverOfferStatus.VOIDED, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(CoverRequest)
        .where(CoverRequest.assignment_id.in_(ids), CoverRequest.status == CoverStatus.OPEN)
        .values(status=CoverStatus.CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, CoverRequest | CoverOffer):
            db.session.expire(obj)


def answer_deadline(session: TrainingSession, made_at: datetime) -> datetime:
    """When a proposal made at `made_at` stops holding its seat: PROPOSAL_HOLD_HOURS after
    it, never later than PROPOSAL_DEADLINE_HOURS before the start. A proposal made later
    than that (a session within a day) holds until the start."""
    return deadline_for(session.starts_at, made_at)


def deadline_for(starts_at: datetime, made_at: datetime) -> datetime:
    """`answer_deadline` of a session starting at `starts_at` (for writers that hold the
    start, not the row)."""
    config = current_app.config
    deadline = min(
        made_at + timedelta(hours=config["PROPOSAL_HOLD_HOURS"]),
        starts_at - timedelta(hours=config["PROPOSAL_DEADLINE_HOURS"]),
    )
    return deadline if deadline > made_at else starts_at


BOOKING_NOT_FOUND = _l("Booking not found.")


def get_assignment(assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(BOOKING_NOT_FOUND)
    return assignment


def require_own_or_organized(user: User, assignment: Assignment) -> None:
    """The booked volunteer, or an organizer of the session's unit; anyone else gets the
    same 404 as for a missing id."""
    if user.has_role("organizer"):
        session = db.session.get(TrainingSession, assignment.session_id)
        visible_or_404(session.ward if session else None, BOOKING_NOT_FOUND)
    elif user.volunteer is None or user.volunteer.id != assignment.volunteer_id:
        raise NotFound(BOOKING_NOT_FOUND)


def _eligible_role(session: TrainingSession, role_name: str, volunteer: Volunteer) -> SessionRole:
    """The role to book, locked (role, then volunteer), after every rule said yes."""
    rules.require_open(session)
    role = rules.role_of(session, role_name)
    counters.lock_roles([role.id])
    counters.lock_volunteers([volunteer.id])
    rules.check_volunteer(volunteer, session, role)
    return role


def sign_up(
    session: TrainingSession, role_name: str, volunteer: Volunteer, actor_id: int | None
) -> Assignment:
    """Confirmed if a seat is free, else waitlisted at the end of the line. An organizer
    signs others up only for sessions of their units."""
    if volunteer.user_id is None or volunteer.user_id != actor_id:
        require_in_scope(session.ward)
    role = _eligible_role(session, role_name, volunteer)
    confirmed = counters.take_seat(role)
    position = None if confirmed else counters.next_position(Assignment, "role_id", role.id)
    assignment = Assignment(
        session_id=session.id,
        role_id=role.id,
        volunteer_id=volunteer.id,
        source="self",
        status=S.CONFIRMED if confirmed else S.WAITLISTED,
        waitlist_position=position,
        session_version=session.version,
        created_by=actor_id,
        decided_at=utcnow() if confirmed else None,
    )
    db.session.add(assignment)
    db.session.flush()
    record_event("signup.confirmed" if confirmed else "signup.waitlisted", assignment)
    return assignment


def promote_waitlist(role: SessionRole) -> list[Assignment]:
    """Fill free seats from the head of the waitlist; someone who meanwhile booked an
    overlapping session keeps their place in line and the next one moves up."""
    promoted: list[Assignment] = []
    session = db.session.get_one(TrainingSession, role.session_id)
    if session.status != SessionStatus.PUBLISHED:
        return promoted
    skipped: set[int] = set()
    while True:
        candidate = db.session.scalar(
            sa.select(Assignment)
            .where(
                Assignment.role_id == role.id,
                Assignment.status == S.WAITLISTED,
                Assignment.id.not_in(skipped or {0}),
            )
            .order_by(Assignment.waitlist_position)
            .limit(1)
        )
        if candidate is None:
            return promoted
        volunteer = db.session.get_one(Volunteer, candidate.volunteer_id)
        # Checked under a savepoint, whose rollback releases the lock of someone skipped:
        # two promotions going down their lines (a withdrawal's, an expiry's) must not
        # each hold a skipped volunteer the other reaches next (a deadlock under load).
        checking = db.session.begin_nested()
        counters.lock_volunteers([volunteer.id])
        if time_refusal(volunteer, session) is not None:
            checking.rollback()
            skipped.add(candidate.id)
            continue
        checking.commit()
        if not counters.take_seat(role):
            return promoted
        position = candidate.waitlist_position
        assert position is not None  # waitlisted rows have a place (CHECK waitlist_position)
        candidate.status, candidate.waitlist_position = S.CONFIRMED, None
        candidate.decided_at = utcnow()
        db.session.flush()
        counters.close_gap(Assignment, "role_id", role.id, position)
        record_event("waitlist.promoted", candidate)
        promoted.append(candidate)


def is_late(session: TrainingSession) -> bool:
    """A withdrawal now would be late (within LATE_WITHDRAWAL_HOURS of the start)."""
    hours = current_app.config["LATE_WITHDRAWAL_HOURS"]
    return session.starts_at - utcnow() < timedelta(hours=hours)


def withdraw(assignment: Assignment, reason: str | None = None) -> Assignment:
    """Leave a session. A freed seat goes to the head of the waitlist at once."""
    counters.lock_and_reread(assignment)
    require_transition(assignment, S.WITHDRAWN)
    session = db.session.get_one(TrainingSession, assignment.session_id)
    if session.starts_at <= utcnow():
        raise Conflict(_l("The session has already started."), code="session_closed")
    role = assignment.role
    previous, position = assignment.status, assignment.waitlist_position
    assignment.status, assignment.waitlist_position = S.WITHDRAWN, None
    assignment.late_withdrawal = previous == S.CONFIRMED and is_late(session)
    assignment.decided_at = utcnow()
    db.session.flush()
    close_cover_requests([assignment.id], assignment.decided_at)
    if previous == S.WAITLISTED:
        assert position is not None  # waitlisted rows have a place (CHECK waitlist_position)
        counters.close_gap(Assignment, "role_id", role.id, position)
    else:
        counters.free_seat(role)
    record_event(
        "signup.withdrawn",
        assignment,
        reason,
        previous_status=previous,
        late=assignment.late_withdrawal,
    )
    if assignment.late_withdrawal:
        record_event("signup.late_withdrawal", assignment, reason)
    if previous != S.WAITLISTED:
        promote_waitlist(role)
    return assignment


def accept(assignment: Assignment) -> Assignment:
    """A volunteer accepts a proposal: the seat it held becomes theirs."""
    counters.lock_and_reread(assignment)
    require_transition(assignment, S.CONFIRMED)
    if assignment.answer_by is not None and assignment.answer_by <= clock.now():
        raise Conflict(
            _l("The time to answer this proposal has passed."),
            code="proposal_expired",
        )
    rules.require_open(db.session.get_one(TrainingSession, assignment.session_id))
    assignment.status, assignment.answer_by = S.CONFIRMED, None
    assignment.decided_at = utcnow()
    db.session.flush()
    record_event("assignment.accepted", assignment)
    return assignment


def expire(assignment: Assignment, now: datetime) -> Assignment:
    """A proposal nobody answered by its deadline lets its seat go: to the head of the
    waitlist at once, else the matcher is asked to repair (assignment.expired)."""
    counters.lock_and_reread(assignment)
    require_transition(assignment, S.EXPIRED)
    if assignment.answer_by is None or assignment.answer_by > now:
        raise Conflict(
            _l("The proposal's answer deadline has not passed."),
            code="not_due",
        )
    role = assignment.role
    assignment.status = S.EXPIRED
    assignment.decided_at = now
    db.session.flush()
    counters.free_seat(role)
    record_event("assignment.expired", assignment, previous_status=S.PROPOSED.value)
    promote_waitlist(role)
    return assignment


def expire_if_due(assignment_id: int, now: datetime) -> str:
    """The expiry job's work, safe to run any number of times: only a proposal still
    unanswered after its deadline expires. Says what happened (flushes)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        return "missing"
    counters.lock_and_reread(assignment)
    if assignment.status != S.PROPOSED:
        return f"already {assignment.status}"
    if assignment.answer_by is None or assignment.answer_by > now:
        return "not due"
    expire(assignment, now)
    return "expired"


def overdue_proposals(now: datetime) -> list[int]:
    """Proposals past their deadline (whose expiry job Redis may have lost)."""
    return list(
        db.session.scalars(
            sa.select(Assignment.id)
            .where(Assignment.status == S.PROPOSED, Assignment.answer_by <= now)
            .order_by(Assignment.id)
        )
    )


def decline(assignment: Assignment, reason: str | None = None) -> Assignment:
    """A volunteer declines a proposal or an organizer's assignment; the seat moves on."""
    counters.lock_and_reread(assignment)
    require_transition(assignment, S.DECLINED)
    rules.require_open(db.session.get_one(TrainingSession, assignment.session_id))
    role = assignment.role
    previous = assignment.status
    assignment.status, assignment.answer_by = S.DECLINED, None
    assignment.decided_at = utcnow()
    db.session.flush()
    close_cover_requests([assignment.id], assignment.decided_at)
    counters.free_seat(role)
    record_event("assignment.declined", assignment, reason, previous_status=previous)
    promote_waitlist(role)
    return assignment


def assign_volunteer(
    session: TrainingSession,
    role_name: str,
    volunteer: Volunteer,
    actor_id: int | None,
    override: bool = False,
) -> Assignment:
    """An organizer books a volunteer directly: confirmed, or 409 when the role is full.
    Any volunteer, into a session of the organizer's units. Outside the volunteer's
    availability, over their weekly limit or without a required skill: 409
    `outside_rules` naming the rules, unless `override` (then the event records the rules
    overridden). A clash is never overridable."""
    require_in_scope(session.ward)
    rules.require_open(session)
    role = rules.role_of(session, role_name)
    counters.lock_roles([role.id])
    counters.lock_volunteers([volunteer.id])
    overridden = rules.check_organizer_assignment(volunteer, session, role, override)
    assignment = _seat_by_organizer(session, role, volunteer.id, actor_id)
    db.session.flush()
    if overridden:
        record_event("assignment.created", assignment, overridden_rules=overridden)
    else:
        record_event("assignment.created", assignment)
    return assignment


def propose_volunteer(
    session: TrainingSession,
    role_name: str,
    volunteer: Volunteer,
    actor_id: int | None,
    now: datetime | None = None,
) -> Assignment:
    """An organizer asks a volunteer: the seat is held for them until the answer deadline
    (answer_deadline), then the proposal expires. 409 when the role is full."""
    require_in_scope(session.ward)
    role = _eligible_role(session, role_name, volunteer)
    if not counters.take_seat(role):
        raise Conflict(_l("The role '%(role)s' is full.", role=role.role), code="role_full")
    assignment = Assignment(
        session_id=session.id,
        role_id=role.id,
        volunteer_id=volunteer.id,
        source="organizer",
        status=S.PROPOSED,
        answer_by=answer_deadline(session, now or clock.now()),
        session_version=session.version,
        created_by=actor_id,
    )
    db.session.add(assignment)
    db.session.flush()
    record_event("assignment.proposed", assignment)
    return assignment


def _seat_by_organizer(
    session: TrainingSession,
    role: SessionRole,
    volunteer_id: int,
    actor_id: int | None,
    squad_id: int | None = None,
) -> Assignment:
    """Take a seat and book it as confirmed by an organizer (409 when the role is full)."""
    if not counters.take_seat(role):
        raise Conflict(_l("The role '%(role)s' is full.", role=role.role), code="role_full")
    assignment = Assignment(
        session_id=session.id,
        role_id=role.id,
        volunteer_id=volunteer_id,
        squad_id=squad_id,
        source="organizer",
        status=S.CONFIRMED,
        session_version=session.version,
        created_by=actor_id,
        decided_at=utcnow(),
    )
    db.session.add(assignment)
    return assignment


def assign_squad(
    session: TrainingSession,
    squad: Squad,
    role_name: str | None,
    actor_id: int | None,
    override: bool = False,
) -> tuple[list[Assignment], list[dict[str, Any]]]:
    """Book a whole squad, all or nothing: the leader takes the lead role when the session
    has a free one, members fill `role_name` (default helper) while seats last. If any
    member who would go has a clash, nothing is written and the error names each such
    member and why (409 `squad_conflict`); members outside the overridable rules (skills,
    availability, weekly limit) make a 409 `outside_rules` unless `override`."""
    require_in_scope(session.ward)
    rules.require_open(session)
    member_role = rules.role_of(session, role_name or "helper")
    lead_role = next((r for r in session.roles if r.role == "lead"), None)
    counters.lock_roles([r.id for r in session.roles])
    member_ids = [squad.leader_id] + [m for m in squad.member_ids if m != squad.leader_id]
    counters.lock_volunteers(member_ids)
    volunteers = {
        v.id: v
        for v in db.session.scalars(sa.select(Volunteer).where(Volunteer.id.in_(member_ids)))
    }

    plan: list[tuple[Volunteer, SessionRole]] = []
    skipped: list[dict[str, Any]] = []
    free = {r.id: r.count - r.taken for r in session.roles}
    for volunteer_id in member_ids:
        volunteer = volunteers[volunteer_id]
        if rules.existing_booking(session.id, volunteer_id) is not None:
            skipped.append({"volunteer_id": volunteer_id, "reason": "already_booked"})
            continue
        role = member_role
        if volunteer_id == squad.leader_id and lead_role is not None and free[lead_role.id] > 0:
            role = lead_role
        if free[role.id] <= 0:
            skipped.append({"volunteer_id": volunteer_id, "reason": "role_full"})
            continue
        free[role.id] -= 1
        plan.append((volunteer, role))

    problems: dict[str, list[LazyString]] = {}
    broken: dict[int, list[rules.Refusal]] = {}
    for volunteer, role in plan:
        clash = clash_refusal(volunteer, session)
        if clash:
            problems[str(volunteer.id)] = [joined((f"{volunteer.full_name}:", clash.message))]
        found = rules.rule_refusals(volunteer, session, role)
        if found:
            broken[volunteer.id] = found
    if problems:
        raise Conflict(
            joined(
                (
                    _l("The squad cannot be assigned:"),
                    joined((m[0] for m in problems.values()), "; "),
                )
            ),
            {"member_ids": problems},
            code="squad_conflict",
        )
    if broken and not override:
        names = {volunteer.id: volunteer.full_name for volunteer, _role in plan}
        raise rules.outside_rules(
            [r for found in broken.values() for r in found],
            "member_ids",
            {
                str(i): [joined((f"{names[i]}:", r.message)) for r in found]
                for i, found in broken.items()
            },
        )
    # The rows are locked and the plan counted free seats, so no seat can be missing here.
    created = [
        _seat_by_organizer(session, role, volunteer.id, actor_id, squad.id)
        for volunteer, role in plan
    ]
    db.session.flush()
    for assignment in created:
        overridden = sorted(
            {rules.OVERRIDABLE_RULES[r.code] for r in broken.get(assignment.volunteer_id, [])}
        )
        extra: dict[str, Any] = {"overridden_rules": overridden} if overridden else {}
        record_event("assignment.created", assignment, squad_id=squad.id, **extra)
    return created, skipped


def bookings_of(
    volunteer_id: int, organized: bool = False, limit: int | None = None, offset: int = 0
) -> tuple[list[Assignment], int]:
    """A volunteer's bookings by id, `limit` of them from `offset` (None: all), and how
    many there are; `organized`: those in sessions of the caller's units."""
    query = sa.select(Assignment).where(Assignment.volunteer_id == volunteer_id)
    if organized:
        query = scoped(
            query.join(TrainingSession, Assignment.session_id == TrainingSession.id),
            TrainingSession.ward,
        )
    page = query.order_by(Assignment.id).offset(offset)
    rows = list(db.session.scalars(page if limit is None else page.limit(limit)))
    if limit is None or (offset == 0 and len(rows) < limit):
        return rows, offset + len(rows)  # the whole list: no count needed
    return rows, count_rows(query)


def staffing(session: TrainingSession) -> list[dict[str, Any]]:
    """Per role: needed, confirmed, proposed (held, until when), free, waitlisted."""
    return staffing_of([session])[session.id]


def staffing_of(sessions: Sequence[TrainingSession]) -> dict[int, list[dict[str, Any]]]:
    """`staffing` of many sessions in two queries, whatever their number (their roles
    should be loaded already, e.g. with selectinload)."""
    ids = [session.id for session in sessions]
    by_role: dict[int, dict[str, int]] = {}
    for chunk in _chunks(ids):
        for role_id, status, count in db.session.execute(
            sa.select(Assignment.role_id, Assignment.status, sa.func.count(Assignment.id))
            .where(Assignment.session_id.in_(chunk), Assignment.status.in_(LIVE_ASSIGNMENT))
            .group_by(Assignment.role_id, Assignment.status)
        ):
            by_role.setdefault(role_id, {})[status] = count
    held_until = holds_until(role.id for session in sessions for role in session.roles)
    return {
        session.id: [
            {
                "role": role.role,
                "needed": role.count,
                "confirmed": by_role.get(role.id, {}).get("confirmed", 0),
                "proposed": by_role.get(role.id, {}).get("proposed", 0),
                # Seats held by proposals waiting for an answer (the same as `proposed`),
                # and seats nobody holds: a sign-up is confirmed only while `free` > 0.
                "held": by_role.get(role.id, {}).get("proposed", 0),
                "held_until": held_until.get(role.id),
                "free": max(role.count - role.taken, 0),
                "waitlisted": by_role.get(role.id, {}).get("waitlisted", 0),
                "required_skills": role.required_skills,
            }
            for role in session.roles
        ]
        for session in sessions
    }


# Ids per IN (...): a statement never carries more bind parameters than this.
CHUNK = 1000


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def holds_until(role_ids: Iterable[int]) -> dict[int, datetime]:
    """Per role with seats held by unanswered proposals: the latest answer deadline."""
    found = {}
    for chunk in _chunks(list(role_ids)):
        for role_id, latest in db.session.execute(
            sa.select(Assignment.role_id, sa.func.max(Assignment.answer_by))
            .where(Assignment.role_id.in_(chunk), Assignment.status == S.PROPOSED)
            .group_by(Assignment.role_id)
        ):
            if latest is not None:
                found[role_id] = latest
    return found


def volunteer_of(user: User | None) -> Volunteer:
    """The caller's volunteer profile, or 403."""
    if user is None or user.volunteer is None:
        raise Forbidden(_l("A volunteer profile is needed."))
    return user.volunteer
