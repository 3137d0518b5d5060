"""Reading a matching problem out of the database (the engine itself never sees it)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from coordinator.bookings.models import (
    SEAT_HOLDING,
    Assignment,
    AssignmentStatus,
    Registration,
)
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import ward_neighbors
from coordinator.matching import shared_read
from coordinator.matching.engine import problem as m
from coordinator.matching.engine.constraints import ward_hops
from coordinator.people.models import AvailabilityWindow, ParticipantPrivate, Volunteer
from coordinator.progress.operations import gap_shares
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.squads.models import SquadMember

# A week either side: bookings there still count for clashes and weekly limits.
CONTEXT = timedelta(days=8)


# The most ids one IN list binds where arrays cannot be bound (SQLite): PostgreSQL
# refuses more than 65,535 parameters, and long IN lists plan slowly long before that.
# On PostgreSQL a list of ids is one array parameter (`among`), whatever its length:
# its driver parses a statement's placeholders in Python, which cost a city's run
# seconds with IN lists of a thousand.
CHUNK = 1000


def arrays() -> bool:
    """Lists of values bind as one array parameter (PostgreSQL)."""
    return db.session.get_bind().dialect.name == "postgresql"


def chunked(ids: Iterable[Any], size: int | None = None) -> Iterator[list[Any]]:
    """`ids` sorted, for `among`: all at once where they travel as one array
    (PostgreSQL), else in lists of at most `size` (CHUNK)."""
    ordered = sorted(set(ids))
    size = len(ordered) or 1 if size is None and arrays() else size or CHUNK
    for at in range(0, len(ordered), size):
        yield ordered[at : at + size]


def among(
    column: sa.ColumnElement[Any] | InstrumentedAttribute[Any], ids: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """`column IN ids`: one array parameter on PostgreSQL (`= ANY(:ids)`), an IN list
    elsewhere (give it a chunk of `chunked`)."""
    if arrays():
        return column == sa.any_(sa.bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(ids)


@dataclass
class Loaded:
    problem: m.Problem
    versions: dict[int, int]  # session id -> version when read
    read_at: datetime
    # A part of a partitioned run: its wards, and the whole run's window, whose other
    # weeks in those wards are its sibling parts' (their writes are not "moves").
    part_wards: frozenset[str] | None = None
    run_window: tuple[datetime, datetime] | None = None
    window: tuple[datetime, datetime] | None = None  # what was read: [from, to)
    # The planned sessions' starts and wards, which the writing needs (no second read).
    starts_at: dict[int, datetime] = field(default_factory=dict)
    wards: dict[int, str] = field(default_factory=dict)


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


# What a run reads of each row, as plain rows (Core selects): building ORM objects and
# decoding JSON columns nobody uses cost a city's run most of its load time.
SESSION_COLUMNS = (
    TrainingSession.id,
    TrainingSession.ward,
    TrainingSession.starts_at,
    TrainingSession.ends_at,
    TrainingSession.competence_area,
    TrainingSession.target_group,
    TrainingSession.participant_needs,
    TrainingSession.languages,
    TrainingSession.series_id,
    TrainingSession.version,
)
ROLE_COLUMNS = (
    SessionRole.id,
    SessionRole.session_id,
    SessionRole.role,
    SessionRole.count,
    SessionRole.taken,
    SessionRole.required_skills,
)
BOOKING_COLUMNS = (
    Assignment.id,
    Assignment.session_id,
    Assignment.role_id,
    Assignment.volunteer_id,
    Assignment.squad_id,
    Assignment.source,
    Assignment.status,
)
VOLUNTEER_COLUMNS = (
    Volunteer.id,
    Volunteer.home_ward,
    Volunteer.skills,
    Volunteer.accessibility_skills,
    Volunteer.languages,
    Volunteer.is_expert,
    Volunteer.max_sessions_per_week,
    Volunteer.preferences,
    Volunteer.active,
)


def load(
    window_from: datetime,
    window_to: datetime,
    ward: str | None = None,
    now: datetime | None = None,
    units: Sequence[str] | None = None,
    *,
    pool: Iterable[str] | None = None,
    part_of: tuple[datetime, datetime] | None = None,
    shared_by: int | None = None,
) -> Loaded:
    """Published sessions starting in [from, to) (and after now) in `ward`, or in `units`
    (None: every unit), the active volunteers who can reach them, and the bookings near
    the window of those volunteers and in those sessions; the matcher's own proposals
    there are movable.

    A part of a partitioned run (operations.partition) gives `pool` and `part_of` (the
    whole run's window): only volunteers living in `pool` are planned, so two parts never
    plan one person; anyone else booked in its sessions keeps their bookings as they are.
    Its run (`shared_by`) reads the volunteers of `pool` once for all its parts
    (shared_read), each part checking they are unchanged since.

    A fixed number of statements whatever the size on PostgreSQL (ids travel as arrays),
    each reading plain rows of the columns the engine needs."""
    now = now or utcnow()
    start = max(window_from, now)
    query = sa.select(*SESSION_COLUMNS).where(
        TrainingSession.status == SessionStatus.PUBLISHED,
        TrainingSession.starts_at >= start,
        TrainingSession.starts_at < window_to,
    )
    if ward:
        query = query.where(TrainingSession.ward == ward)
    if units is not None:
        query = query.where(among(TrainingSession.ward, sorted(units)))
    targets = db.session.execute(query.order_by(TrainingSession.starts_at)).all()
    target_ids = {s.id for s in targets}
    roles_of: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunked(target_ids):
        for role in db.session.execute(
            sa.select(*ROLE_COLUMNS).where(among(SessionRole.session_id, chunk))
        ):
            roles_of[role.session_id].append(role)
    neighbours = _neighbours()
    homes = (
        frozenset(pool) if pool is not None else _reachable({s.ward for s in targets}, neighbours)
    )

    statuses = SEAT_HOLDING + (
        AssignmentStatus.DECLINED,
        AssignmentStatus.WITHDRAWN,
        AssignmentStatus.EXPIRED,
    )
    found: dict[int, Any] = {}
    for chunk in chunked(target_ids):  # everything booked in the sessions planned
        for row in db.session.execute(
            sa.select(*BOOKING_COLUMNS).where(
                among(Assignment.session_id, chunk), Assignment.status.in_(statuses)
            )
        ):
            found[row.id] = row
    siblings = sa.false()
    if part_of is not None:
        # A week part does not see its siblings' proposals (the same wards, other weeks of
        # the run): they may be replanned at this moment, and what a part plans must not
        # depend on which sibling ran first, or running again would reshuffle. Weekly
        # limits count per week and no session comes near a week's boundary
        # (operations.partition), so nothing a sibling proposes can clash.
        siblings = sa.and_(
            among(TrainingSession.ward, sorted(units or ())),
            TrainingSession.starts_at >= part_of[0],
            TrainingSession.starts_at < part_of[1],
            sa.or_(TrainingSession.starts_at < window_from, TrainingSession.starts_at >= window_to),
            Assignment.source == "matcher",
            Assignment.status == AssignmentStatus.PROPOSED,
        )
    for chunk in chunked(homes):  # the planned volunteers' bookings around them
        for row in db.session.execute(
            sa.select(*BOOKING_COLUMNS)
            .join(TrainingSession, Assignment.session_id == TrainingSession.id)
            .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
            .where(
                among(Volunteer.home_ward, chunk),
                Assignment.status.in_(SEAT_HOLDING),
                TrainingSession.status != "cancelled",
                TrainingSession.starts_at >= start - CONTEXT,
                TrainingSession.starts_at < window_to + CONTEXT,
                sa.not_(siblings),
            )
        ):
            found[row.id] = row
    around = {s.id: s for s in targets}
    for chunk in chunked({row.session_id for row in found.values()} - target_ids):
        for session in db.session.execute(
            sa.select(*SESSION_COLUMNS).where(among(TrainingSession.id, chunk))
        ):
            around[session.id] = session
    bookings = [(found[key], around[found[key].session_id]) for key in sorted(found)]
    needs = _registered_needs(target_ids)
    series_people, squads = _series_and_squads(targets, bookings)
    volunteers = _volunteers_near(homes, {a.volunteer_id for a, _ in bookings}, shared_by)
    planned = {v.id for v in volunteers if v.home_ward in homes}

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
            and assignment.volunteer_id in planned
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
        for role in sorted(roles_of[session.id], key=lambda r: r.id)
    ]
    config = current_app.config
    problem = m.Problem(
        volunteers=volunteers,
        sessions=list(sessions.values()),
        roles=roles,
        bookings=plan_bookings,
        neighbours=_around(
            neighbours,
            homes
            | {v.home_ward for v in volunteers}
            | {s.ward for s in sessions.values()}
            | {n for s in targets for n in neighbours.get(s.ward, ())},
        ),
        travel_gap=config["TRAVEL_GAP_MINUTES"],
        weights=weights(),
        refused=frozenset(refused),
    )
    return Loaded(
        problem,
        {s.id: s.version for s in targets},
        now,
        part_wards=frozenset(units or ()) if part_of is not None else None,
        run_window=part_of,
        window=(window_from, window_to),
        starts_at={s.id: s.starts_at for s in targets},
        wards={s.id: s.ward for s in targets},
    )


def weights() -> m.Weights:
    """The engine's soft costs with the empty seats' weights from the configuration
    (MATCHING_UNFILLED_*): the one place the app sets them."""
    config = current_app.config
    return m.Weights(
        unfilled=config["MATCHING_UNFILLED_HELPER"],
        unfilled_lead=config["MATCHING_UNFILLED_LEAD"],
        unfilled_accessibility=config["MATCHING_UNFILLED_ACCESSIBILITY"],
        unfilled_language=config["MATCHING_UNFILLED_LANGUAGE"],
    )


def _around(
    neighbours: dict[str, frozenset[str]], wards: Iterable[str]
) -> dict[str, frozenset[str]]:
    """The map between `wards` only. The engine measures every ward's distance to every
    other it is given (a country's 3,321: a second per ward's run); given the planned
    homes, the sessions' wards and the wards next to the planned ones, every route of
    two steps from a home to a session is still there, and every pair of neighbours."""
    keep = frozenset(wards)
    return {ward: near & keep for ward, near in neighbours.items() if ward in keep}


def _reachable(wards: set[str], neighbours: dict[str, frozenset[str]]) -> frozenset[str]:
    """The wards whose volunteers may be proposed in `wards`: those within the matcher's
    furthest distance (engine Weights.max_ward_hops) of one of them."""
    limit = m.Weights().max_ward_hops
    reach = set(wards)
    frontier = set(wards)
    for _ in range(limit):
        frontier = {n for ward in frontier for n in neighbours.get(ward, ())} - reach
        reach |= frontier
    return frozenset(reach)


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


def _priorities(targets: Sequence[Any]) -> dict[int, int]:
    """Extra cost per empty seat: MATCHING_PRIORITY_WEIGHT × how far the session's ward
    and group are from their target in the session's year (remaining / target, 0-1)."""
    weight = current_app.config["MATCHING_PRIORITY_WEIGHT"]
    shares: dict[int, dict[tuple[str, str], float]] = {}
    found = {}
    for session in targets:
        year = session.starts_at.astimezone(display_timezone()).year
        if year not in shares:
            shares[year] = gap_shares(year, {s.ward for s in targets}) if weight else {}
        key = (session.ward, session.target_group)
        found[session.id] = round(weight * shares[year].get(key, 0))
    return found


def _registered_needs(session_ids: set[int]) -> dict[int, frozenset[str]]:
    """Accessibility needs of the participants registered in each session (needs only)."""
    found: dict[int, set[str]] = defaultdict(set)
    if session_ids:
        for chunk in chunked(session_ids):
            rows = db.session.execute(
                sa.select(Registration.session_id, ParticipantPrivate.accessibility_needs)
                .join(
                    ParticipantPrivate,
                    ParticipantPrivate.participant_id == Registration.participant_id,
                )
                .where(
                    among(Registration.session_id, chunk),
                    Registration.status == "registered",
                )
            )
            for session_id, needs in rows:
                found[session_id].update(needs or ())
    return defaultdict(frozenset, {k: frozenset(v) for k, v in found.items()})


def _series_and_squads(
    targets: Sequence[Any], bookings: Sequence[tuple[Any, Any]]
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


# The volunteers of `_volunteers_near` on PostgreSQL, as one JSON document: one row per
# volunteer of their columns, free time (planned ones only) and squads. A city's 20,000
# volunteers came as 20,000 rows, 50,000 windows and 90,000 JSON values each decoded on
# its own, 1.5 s of a week part's CPU; one document is decoded at C speed.
VOLUNTEERS_DOCUMENT = sa.text(
    """
    WITH chosen AS (
        SELECT v.*, (v.active AND v.home_ward = ANY(:pool)) AS planned
        FROM volunteers v
        WHERE (v.active AND v.home_ward = ANY(:pool)) OR v.id = ANY(:booked)
    )
    SELECT coalesce(json_agg(json_build_array(
        c.id, c.home_ward, c.skills, c.accessibility_skills, c.languages, c.is_expert,
        c.max_sessions_per_week, c.preferences, c.planned,
        CASE WHEN c.planned THEN (
            SELECT json_agg(json_build_array(w.weekday, w.start_minute, w.end_minute)
                            ORDER BY w.id)
            FROM availability_windows w WHERE w.volunteer_id = c.id
        ) END,
        (SELECT json_agg(s.squad_id) FROM squad_members s WHERE s.volunteer_id = c.id)
    ) ORDER BY c.id), '[]')::text
    FROM chosen c
    """
).bindparams(
    sa.bindparam("pool", type_=ARRAY(sa.String)), sa.bindparam("booked", type_=ARRAY(sa.Integer))
)


def _volunteers_near(
    pool: frozenset[str], booked: set[int], shared_by: int | None = None
) -> list[m.Volunteer]:
    """The active volunteers living in `pool`, who may be proposed, and those booked in
    the loaded bookings, who keep them (proposed anew only if they live in `pool`).
    With `shared_by` (a run whose parts plan `pool`), the first read by the run's parts
    unless a volunteer of `pool` changed since (shared_read); the others read here."""
    if shared_by is None:
        return _read_volunteers(pool, booked)
    planned = _from_document(
        shared_read.read_once(
            shared_read.key(shared_by, "volunteers", pool),
            mark=lambda: volunteers_mark(pool),
            read=lambda: _volunteers_document(pool, set()),
        )
    )
    others = booked - {v.id for v in planned}
    found = planned + (_read_volunteers(frozenset(), others) if others else [])
    return sorted(found, key=lambda v: v.id)


def volunteers_mark(pool: frozenset[str]) -> str:
    """What changes whenever the active volunteers of `pool` change as the engine sees
    them: their ids and versions (every change to a volunteer, free time included, bumps
    its version) and their squads (which do not)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for chunk in chunked(pool):
        chosen = sa.and_(Volunteer.active.is_(True), among(Volunteer.home_ward, chunk))
        for row in db.session.execute(
            sa.select(Volunteer.id, Volunteer.version).where(chosen).order_by(Volunteer.id)
        ):
            digest.update(b"v%d.%d" % tuple(row))
        for row in db.session.execute(
            sa.select(SquadMember.volunteer_id, SquadMember.squad_id)
            .join(Volunteer, Volunteer.id == SquadMember.volunteer_id)
            .where(chosen)
            .order_by(SquadMember.volunteer_id, SquadMember.squad_id)
        ):
            digest.update(b"s%d.%d" % tuple(row))
    return digest.hexdigest()


def _read_volunteers(pool: frozenset[str], booked: set[int]) -> list[m.Volunteer]:
    """`_volunteers_near` read from the database."""
    return _from_document(_volunteers_document(pool, booked))


def _from_document(document: str) -> list[m.Volunteer]:
    return [_engine_volunteer(*row) for row in json.loads(document)]


def _volunteers_document(pool: frozenset[str], booked: set[int]) -> str:
    """The volunteers of `_volunteers_near` as VOLUNTEERS_DOCUMENT gives them (one JSON
    array per volunteer, by id), which PostgreSQL builds; elsewhere built from rows."""
    if arrays():
        return str(
            db.session.scalar(VOLUNTEERS_DOCUMENT, {"pool": sorted(pool), "booked": sorted(booked)})
        )
    found: dict[int, Any] = {}
    for chunk in chunked(pool):
        for v in db.session.execute(
            sa.select(*VOLUNTEER_COLUMNS).where(
                among(Volunteer.home_ward, chunk), Volunteer.active.is_(True)
            )
        ):
            found[v.id] = v
    for chunk in chunked(booked - set(found)):
        for v in db.session.execute(
            sa.select(*VOLUNTEER_COLUMNS).where(among(Volunteer.id, chunk))
        ):
            found[v.id] = v
    planned = {v.id for v in found.values() if v.active and v.home_ward in pool}
    windows, squads = _windows_and_squads(planned, found)
    return json.dumps(
        [_engine_fields(found[key], planned, windows, squads) for key in sorted(found)]
    )


def _engine_fields(
    v: Any, planned: set[int], windows: dict[int, Any], squads: dict[int, Any]
) -> list[Any]:
    """A volunteer's row as `_engine_volunteer` takes it (and the document holds it)."""
    return [
        v.id,
        v.home_ward,
        v.skills,
        v.accessibility_skills,
        v.languages,
        v.is_expert,
        v.max_sessions_per_week,
        v.preferences,
        v.id in planned,
        windows.get(v.id) if v.id in planned else None,
        squads.get(v.id),
    ]


def _volunteers(booked: set[int], only: int | None = None) -> list[m.Volunteer]:
    """Active volunteers, and inactive ones who still hold bookings (never proposed);
    with `only`, that volunteer alone (if active or booked)."""
    volunteer_query = (
        sa.select(Volunteer)
        .where(sa.or_(Volunteer.active.is_(True), Volunteer.id.in_(booked)))
        .order_by(Volunteer.id)
    )
    if only is not None:
        volunteer_query = volunteer_query.where(Volunteer.id == only)
    rows = list(db.session.scalars(volunteer_query))
    planned = {v.id for v in rows if v.active}
    windows, squads = _windows_and_squads(planned, [v.id for v in rows])
    return [_engine_volunteer(*_engine_fields(v, planned, windows, squads)) for v in rows]


def _windows_and_squads(
    planned: Iterable[int], ids: Iterable[int]
) -> tuple[dict[int, list[tuple[int, int, int]]], dict[int, list[int]]]:
    """The free time of the `planned` volunteers (weekday, start, end), and the squads
    of the volunteers `ids`; only planned volunteers get free time, so the others are
    never proposed (their bookings are fixed)."""
    windows: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    squads: dict[int, list[int]] = defaultdict(list)
    for chunk in chunked(planned):
        for row in db.session.execute(
            sa.select(
                AvailabilityWindow.volunteer_id,
                AvailabilityWindow.weekday,
                AvailabilityWindow.start_minute,
                AvailabilityWindow.end_minute,
            )
            .where(among(AvailabilityWindow.volunteer_id, chunk))
            .order_by(AvailabilityWindow.id)
        ):
            windows[row.volunteer_id].append((row.weekday, row.start_minute, row.end_minute))
    for chunk in chunked(ids):
        for squad_id, volunteer_id in db.session.execute(
            sa.select(SquadMember.squad_id, SquadMember.volunteer_id)
            .where(among(SquadMember.volunteer_id, chunk))
            .order_by(SquadMember.squad_id)
        ):
            squads[volunteer_id].append(squad_id)
    return windows, squads


def _engine_volunteer(
    volunteer_id: int,
    home_ward: str,
    skills: Iterable[str],
    accessibility: Iterable[str],
    languages: Iterable[str] | None,
    is_expert: bool,
    max_per_week: int,
    preferences: dict[str, Any] | None,
    planned: bool,
    windows: Iterable[m.Window | Sequence[int]] | None,
    squads: Iterable[int] | None,
) -> m.Volunteer:
    """One volunteer for the engine; free time only if `planned` (else never proposed:
    their bookings are fixed)."""
    prefs = preferences or {}
    return m.Volunteer(
        id=volunteer_id,
        home_ward=home_ward,
        skills=frozenset(skills),
        accessibility=frozenset(accessibility),
        languages=frozenset(languages or ["vi"]),
        is_expert=is_expert,
        max_per_week=max_per_week,
        windows=tuple(w if isinstance(w, m.Window) else m.Window(*w) for w in windows or ())
        if planned
        else (),
        preferred_wards=frozenset(prefs.get("wards", ())),
        preferred_topics=frozenset(prefs.get("topics", ())),
        preferred_groups=frozenset(prefs.get("target_groups", ())),
        squads=frozenset(squads or ()),
    )


def _neighbours() -> dict[str, frozenset[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for ward, neighbour in db.session.execute(
        sa.select(ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code)
    ):
        graph[ward].add(neighbour)
        graph[neighbour].add(ward)
    return {ward: frozenset(n) for ward, n in graph.items()}
