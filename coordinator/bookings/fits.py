"""Sessions that fit one volunteer, read with a per-volunteer candidate query: the
published sessions of the coming weeks in the wards near enough to their home, their own
bookings around them, and the neighbour links of just those wards. The matcher's own
rules (coordinator.matching.engine.fits) then decide, so they stay in one place; the
cost follows the volunteer's neighbourhood, not the size of the country.

Plain functions, no HTTP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings.models import SEAT_HOLDING, Assignment
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import ward_neighbors
from coordinator.matching import loader
from coordinator.matching.engine import fits as engine_fits
from coordinator.matching.engine import problem as m
from coordinator.matching.operations import FIT_HORIZON, SessionFit
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession


def _links_touching(wards: Iterable[str]) -> dict[str, set[str]]:
    """The neighbour links with an end in `wards`, both ways (links are stored once)."""
    wanted = sorted(set(wards))
    graph: dict[str, set[str]] = defaultdict(set)
    if not wanted:
        return graph
    left, right = ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code
    for a, b in db.session.execute(
        sa.select(left, right).where(sa.or_(left.in_(wanted), right.in_(wanted)))
    ):
        graph[a].add(b)
        graph[b].add(a)
    return graph


def _near(graph: dict[str, set[str]], home: str, limit: int) -> set[str]:
    """Wards within `limit` steps of `home` in `graph` (which holds every link of the
    wards fewer than `limit` steps away)."""
    seen, frontier = {home}, {home}
    for _ in range(limit):
        frontier = {n for ward in frontier for n in graph.get(ward, ())} - seen
        seen |= frontier
    return seen


def candidate_problem(
    volunteer: Volunteer, window_from: datetime, window_to: datetime, now: datetime
) -> tuple[m.Problem, list[TrainingSession]]:
    """The volunteer's share of the matching problem (as loader.load_for_volunteer reads
    it, with the neighbour graph and the sessions' roles read for these wards only), and
    the candidate sessions by start."""
    start = max(window_from, now)
    limit = m.Weights().max_ward_hops
    booked = db.session.execute(
        sa.select(Assignment.role_id, TrainingSession)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status.in_(SEAT_HOLDING),
            TrainingSession.status != "cancelled",
            TrainingSession.starts_at >= start - loader.CONTEXT,
            TrainingSession.starts_at < window_to + loader.CONTEXT,
        )
        .order_by(Assignment.id)
    ).all()
    # Links of home and of the booked sessions' wards (travel between them), then of
    # each further ring up to the last one the distance rule reaches.
    loaded = {volunteer.home_ward} | {s.ward for _r, s in booked}
    graph = _links_touching(loaded)
    ring = {volunteer.home_ward}
    for _ in range(limit - 1):
        ring = {n for ward in ring for n in graph.get(ward, ())} - {volunteer.home_ward}
        for ward, links in _links_touching(ring - loaded).items():
            graph[ward] |= links
        loaded |= ring
    near = _near(graph, volunteer.home_ward, limit)
    targets = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.status == "published",
            TrainingSession.starts_at >= start,
            TrainingSession.starts_at < window_to,
            TrainingSession.ward.in_(sorted(near)),
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .options(sa.orm.selectinload(TrainingSession.roles))
    ).all()
    sessions = {s.id: loader.to_session(s, frozenset(), (), ()) for s in targets}
    bookings = []
    for role_id, session in booked:
        if session.id not in sessions:
            sessions[session.id] = loader.to_session(session, frozenset(), (), ())
        bookings.append(m.Booking(volunteer.id, session.id, role_id))
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
    problem = m.Problem(
        volunteers=loader._volunteers(set(), only=volunteer.id),  # the one mapping
        sessions=list(sessions.values()),
        roles=roles,
        bookings=bookings,
        neighbours={ward: frozenset(links) for ward, links in graph.items()},
        travel_gap=current_app.config["TRAVEL_GAP_MINUTES"],
    )
    return problem, list(targets)


def sessions_that_fit(volunteer_id: int, now: datetime | None = None) -> list[SessionFit]:
    """Sessions of the next FIT_HORIZON with a role this volunteer may take, by the
    matcher's rules (engine.fits): skills, free time, near enough, no clash with their
    bookings, their weekly limit. By start. Nothing for an inactive volunteer."""
    now = now or utcnow()
    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.active:  # no free time: nothing fits
        return []
    problem, targets = candidate_problem(volunteer, now, now + FIT_HORIZON, now)
    found = {fit.session_id: fit for fit in engine_fits.sessions_that_fit(problem, volunteer_id)}
    return [
        SessionFit(
            session=session,
            roles=[role for role in session.roles if role.id in found[session.id].role_ids],
            distance=found[session.id].distance,
        )
        for session in targets
        if session.id in found
    ]
