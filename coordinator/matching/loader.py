"""Reading a matching problem out of the database (the engine itself never sees it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Row

from coordinator.bookings.models import (
    SEAT_HOLDING,
    Assignment,
    AssignmentStatus,
    Registration,
    RegistrationStatus,
)
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import ward_neighbors
from coordinator.matching.engine import problem as m
from coordinator.matching.engine.constraints import ward_hops
from coordinator.people.models import AvailabilityWindow, ParticipantPrivate, Volunteer
from coordinator.progress.operations import gap_shares
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.squads.models import SquadMember

# A week either side: bookings there still count for clashes and weekly limits.
CONTEXT = timedelta(days=8)


@dataclass
class Loaded:
    problem: m.Problem
    versions: dict[int, int]  # session id -> version when read
    read_at: datetime


def _minutes(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def to_session(
    row: TrainingSession,
    needs: frozenset[str],
    series_people: Iterable[int],
    squads: Iterable[int],
) -> m.Session:
    local = row.starts_at.astimezone(display_timezone())
    local_end = row.ends_at.astimezone(display_timezone())
    day = local.date().toordinal()
    start_minute = local.hour * 60 + local.minute
    end_minute = (
        (local_end.date().toordinal() - day) * 1440 + local_end.hour * 60 + local_end.minute
    )
    return m.Session(
        id=row.id,
        ward=row.ward,
        start=_minutes(row.starts_at),
        end=_minutes(row.ends_at),
        day=day,
        week=(day - local.weekday()) // 7,
        weekday=local.weekday(),
        local_start=start_minute,
        local_end=end_minute,
        topic=row.competence_area,
        target_group=row.target_group,
        needs=frozenset(row.participant_needs) | needs,
        languages=frozenset(row.languages or ()),
        series_people=frozenset(series_people),
        squads=frozenset(squads),
    )


def load(
    window_from: datetime,
    window_to: datetime,
    ward: str | None = None,
    now: datetime | None = None,
    units: Sequence[str] | None = None,
) -> Loaded:
    """Published sessions starting in [from, to) (and after now) in `ward`, or in `units`
    (None: every unit), all active volunteers, and every booking near the window; the
    matcher's own proposals there are movable."""
    now = now or utcnow()
    start = max(window_from, now)
    query = sa.select(TrainingSession).where(
        TrainingSession.status == SessionStatus.PUBLISHED,
        TrainingSession.starts_at >= start,
        TrainingSession.starts_at < window_to,
    )
    if ward:
        query = query.where(TrainingSession.ward == ward)
    if units is not None:
        query = query.where(TrainingSession.ward.in_(sorted(units)))
    targets = db.session.scalars(query.order_by(TrainingSession.starts_at)).all()
    target_ids = {s.id for s in targets}

    bookings = db.session.execute(
        sa.select(Assignment, TrainingSession)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.starts_at >= start - CONTEXT,
            TrainingSession.starts_at < window_to + CONTEXT,
            Assignment.status.in_(
                SEAT_HOLDING
                + (AssignmentStatus.DECLINED, AssignmentStatus.WITHDRAWN, AssignmentStatus.EXPIRED)
            ),
        )
    ).all()
    needs = _registered_needs(target_ids)
    series_people, squads = _series_and_squads(targets, bookings)

    priorities = _priorities(targets)
    sessions = {
        s.id: replace(
            to_session(s, needs[s.id], series_people[s.id], squads[s.id]),
            priority=priorities[s.id],
        )
        for s in targets
    }
    movable_per_role: dict[int, int] = defaultdict(int)
    plan_bookings, refused = [], set()
    for assignment, session in bookings:
        if assignment.status not in SEAT_HOLDING:
            if session.id in target_ids:
                refused.add((assignment.volunteer_id, session.id))
            continue
        if session.id not in sessions:
            sessions[session.id] = to_session(session, frozenset(), (), ())
        movable = (
            session.id in target_ids
            and assignment.source == "matcher"
            and assignment.status == AssignmentStatus.PROPOSED
        )
        movable_per_role[assignment.role_id] += movable
        plan_bookings.append(
            m.Booking(assignment.volunteer_id, session.id, assignment.role_id, fixed=not movable)
        )
    roles = [
        m.Role(
            id=role.id,
            session_id=role.session_id,
            name=role.role,
            seats=role.count - role.taken + movable_per_role[role.id],
            required_skills=frozenset(role.required_skills),
        )
        for session in targets
        for role in sorted(session.roles, key=lambda r: r.id)
    ]
    config = current_app.config
    problem = m.Problem(
        volunteers=_volunteers({b.volunteer_id for b in plan_bookings}),
        sessions=list(sessions.values()),
        roles=roles,
        bookings=plan_bookings,
        neighbours=_neighbours(),
        travel_gap=config["TRAVEL_GAP_MINUTES"],
        refused=frozenset(refused),
    )
    return Loaded(problem, {s.id: s.version for s in targets}, now)


def load_for_volunteer(
    volunteer_id: int, window_from: datetime, window_to: datetime, now: datetime | None = None
) -> m.Problem:
    """What one volunteer's sessions that fit need, not the whole problem: the volunteer
    (if active), the published sessions starting in [from, to) (and after now) in wards
    near enough to their home, with their roles, and the volunteer's own bookings near
    the window (confirmed or proposed), as `load` reads them. Roles' seats are those
    still free (the matcher's proposals not counted as movable); fits do not look at
    seats. No participants' needs, series, squads or priorities: fits do not use them."""
    now = now or utcnow()
    start = max(window_from, now)
    neighbours = _neighbours()
    config = current_app.config
    empty = m.Problem(volunteers=[], sessions=[], roles=[], neighbours=neighbours)
    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.active:  # no free time: nothing fits
        return empty
    volunteers = _volunteers(set(), only=volunteer_id)
    limit = m.Weights().max_ward_hops
    near = {volunteer.home_ward} | set(ward_hops(neighbours, limit).get(volunteer.home_ward, {}))
    targets = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.status == SessionStatus.PUBLISHED,
            TrainingSession.starts_at >= start,
            TrainingSession.starts_at < window_to,
            TrainingSession.ward.in_(sorted(near)),
        )
        .order_by(TrainingSession.starts_at)
    ).all()
    sessions = {s.id: to_session(s, frozenset(), (), ()) for s in targets}
    booked = db.session.execute(
        sa.select(Assignment.role_id, TrainingSession)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer_id,
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.starts_at >= start - CONTEXT,
            TrainingSession.starts_at < window_to + CONTEXT,
        )
        .order_by(Assignment.id)
    ).all()
    bookings = []
    for role_id, session in booked:
        if session.id not in sessions:
            sessions[session.id] = to_session(session, frozenset(), (), ())
        bookings.append(m.Booking(volunteer_id, session.id, role_id))
    roles = [
        m.Role(
            id=role.id,
            session_id=role.session_id,
            name=role.role,
            seats=role.count - role.taken,
            required_skills=frozenset(role.required_skills),
        )
        for session in targets
        for role in session.roles
    ]
    return m.Problem(
        volunteers=volunteers,
        sessions=list(sessions.values()),
        roles=roles,
        bookings=bookings,
        neighbours=neighbours,
        travel_gap=config["TRAVEL_GAP_MINUTES"],
    )


def _priorities(targets: Sequence[TrainingSession]) -> dict[int, int]:
    """Extra cost per empty seat: MATCHING_PRIORITY_WEIGHT × how far the session's ward
    and group are from their target in the session's year (remaining / target, 0-1)."""
    weight = current_app.config["MATCHING_PRIORITY_WEIGHT"]
    shares: dict[int, dict[tuple[str, str], float]] = {}
    found = {}
    for session in targets:
        year = session.starts_at.astimezone(display_timezone()).year
        if year not in shares:
            shares[year] = gap_shares(year) if weight else {}
        key = (session.ward, session.target_group)
        found[session.id] = round(weight * shares[year].get(key, 0))
    return found


def _registered_needs(session_ids: set[int]) -> dict[int, frozenset[str]]:
    """Accessibility needs of the participants registered in each session (needs only)."""
    found: dict[int, set[str]] = defaultdict(set)
    if session_ids:
        rows = db.session.execute(
            sa.select(Registration.session_id, ParticipantPrivate.accessibility_needs)
            .join(
                ParticipantPrivate,
                ParticipantPrivate.participant_id == Registration.participant_id,
            )
            .where(
                Registration.session_id.in_(session_ids),
                Registration.status == RegistrationStatus.REGISTERED,
            )
        )
        for session_id, needs in rows:
            found[session_id].update(needs or ())
    return defaultdict(frozenset, {k: frozenset(v) for k, v in found.items()})


def _series_and_squads(
    targets: Sequence[TrainingSession], bookings: Sequence[Row[tuple[Assignment, TrainingSession]]]
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Who already works a session's series, and which squads are already on it."""
    series_of = {s.id: s.series_id for s in targets if s.series_id}
    series_people: dict[int, set[int]] = defaultdict(set)
    squads: dict[int, set[int]] = defaultdict(set)
    by_series: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for assignment, session in bookings:
        if assignment.status != AssignmentStatus.CONFIRMED:
            continue
        if session.series_id:
            by_series[session.series_id].add((assignment.volunteer_id, session.id))
        if assignment.squad_id:
            squads[session.id].add(assignment.squad_id)
    for session_id, series_id in series_of.items():
        series_people[session_id] = {v for v, s in by_series[series_id] if s != session_id}
    return series_people, squads


def _volunteers(booked: set[int], only: int | None = None) -> list[m.Volunteer]:
    """Active volunteers, and inactive ones who still hold bookings (never proposed);
    with `only`, that volunteer alone (if active or booked)."""
    window_query = sa.select(AvailabilityWindow).order_by(AvailabilityWindow.id)
    squad_query = sa.select(SquadMember.squad_id, SquadMember.volunteer_id)
    volunteer_query = (
        sa.select(Volunteer)
        .where(sa.or_(Volunteer.active.is_(True), Volunteer.id.in_(booked)))
        .order_by(Volunteer.id)
    )
    if only is not None:
        window_query = window_query.where(AvailabilityWindow.volunteer_id == only)
        squad_query = squad_query.where(SquadMember.volunteer_id == only)
        volunteer_query = volunteer_query.where(Volunteer.id == only)
    windows: dict[int, list[m.Window]] = defaultdict(list)
    for row in db.session.scalars(window_query):
        windows[row.volunteer_id].append(m.Window(row.weekday, row.start_minute, row.end_minute))
    squads: dict[int, set[int]] = defaultdict(set)
    for squad_id, volunteer_id in db.session.execute(squad_query):
        squads[volunteer_id].add(squad_id)
    volunteers = []
    for v in db.session.scalars(volunteer_query):
        prefs = v.preferences or {}
        volunteers.append(
            m.Volunteer(
                id=v.id,
                home_ward=v.home_ward,
                skills=frozenset(v.skills),
                accessibility=frozenset(v.accessibility_skills),
                languages=frozenset(v.languages or ["vi"]),
                is_expert=v.is_expert,
                max_per_week=v.max_sessions_per_week,
                windows=tuple(windows[v.id]) if v.active else (),
                preferred_wards=frozenset(prefs.get("wards", ())),
                preferred_topics=frozenset(prefs.get("topics", ())),
                preferred_groups=frozenset(prefs.get("target_groups", ())),
                squads=frozenset(squads[v.id]),
            )
        )
    return volunteers


def _neighbours() -> dict[str, frozenset[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for ward, neighbour in db.session.execute(
        sa.select(ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code)
    ):
        graph[ward].add(neighbour)
        graph[neighbour].add(ward)
    return {ward: frozenset(n) for ward, n in graph.items()}
