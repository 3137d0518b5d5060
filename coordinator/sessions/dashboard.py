"""What needs an organizer now: each role of a session in one of three states (confirmed,
awaiting a reply, empty), the sessions ordered by urgency, and a summary strip.

The seat counts, the urgency order and the strip are SQL over the organizer's whole list
(not the page shown: page 2 continues page 1's order, and the strip counts every session
of their scope), in a fixed number of queries whatever the number of sessions; each
card's roles come from `bookings.staffing_of` for the sessions of the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.extensions import db
from coordinator.paging import count
from coordinator.sessions.models import SessionRole, TrainingSession

URGENT_DAYS, SOON_DAYS = 3, 7
# The urgency rank (lower first) and the badge it shows: empty seats within 3 days, within
# 7 days, then unanswered proposals within 7 days, empty seats later, proposals later,
# fully staffed.
URGENCY_OF_RANK = ("urgent", "soon", "soon", "fine", "fine", "fine")


class RoleState(StrEnum):
    CONFIRMED = "confirmed"  # every seat taken by someone who said yes
    AWAITING = "awaiting"  # no empty seat, but some wait for an answer to a proposal
    EMPTY = "empty"  # at least one seat nobody holds


def role_state(role: dict[str, Any]) -> RoleState:
    if role["confirmed"] >= role["needed"]:
        return RoleState.CONFIRMED
    if role["confirmed"] + role["proposed"] >= role["needed"]:
        return RoleState.AWAITING
    return RoleState.EMPTY


@dataclass
class SessionNeeds:
    """A session on the dashboard: per role its state and counts; what is missing."""

    session: Any
    roles: list[dict[str, Any]]
    empty: int  # seats nobody holds
    awaiting: int  # seats held by unanswered proposals
    lead_missing: bool  # a lead seat not confirmed
    rank: int

    @property
    def urgency(self) -> str:
        """urgent, soon or fine (the badge)."""
        return URGENCY_OF_RANK[self.rank]

    @property
    def staffed(self) -> bool:
        """Fully staffed: every seat confirmed ("Đủ người" only then)."""
        return self.empty == 0 and self.awaiting == 0


def _needs(sessions: sa.Select[Any], now: datetime) -> sa.Subquery:
    """Per session `sessions` selects, narrow rows: id, starts_at, empty seats, seats
    awaiting a reply, whether a lead seat is unconfirmed, and the urgency rank.

    From each role's own seat counter (`taken`: its confirmed and proposed bookings, kept
    by every booking change, never above `count`; `staffing_of`'s `free` reads it too) and
    the proposals alone, not by counting every booking of the organizer's weeks (a
    country's month: 100,000): confirmed = taken - proposed, so a role's empty seats are
    count - taken and its awaiting ones its proposals. The rows carry no session columns
    but the id and start, so ranking a country's 45,000 sessions sorts and sums small
    tuples; the page's sessions are read by id afterwards."""
    # (An integer count: sums of bigints are numerics in PostgreSQL, whose aggregates
    # are slower and spill past work_mem at a country's 45,000 sessions.)
    proposals = (
        sa.select(Assignment.role_id, sa.cast(sa.func.count(Assignment.id), sa.Integer).label("n"))
        .where(Assignment.status == AssignmentStatus.PROPOSED)
        .group_by(Assignment.role_id)
        .subquery()
    )
    proposed = sa.func.coalesce(proposals.c.n, 0)
    needed, confirmed = SessionRole.count, SessionRole.taken - proposed
    unconfirmed = sa.case((needed > confirmed, needed - confirmed), else_=0)
    empty = sa.func.coalesce(
        sa.func.sum(sa.case((unconfirmed > proposed, unconfirmed - proposed), else_=0)), 0
    )
    awaiting = sa.func.coalesce(
        sa.func.sum(sa.case((proposed < unconfirmed, proposed), else_=unconfirmed)), 0
    )
    lead_missing = sa.func.coalesce(
        sa.func.max(sa.case((sa.and_(SessionRole.role == "lead", confirmed < needed), 1), else_=0)),
        0,
    )
    starts = TrainingSession.starts_at
    urgent, soon = now + timedelta(days=URGENT_DAYS), now + timedelta(days=SOON_DAYS)
    rank = sa.case(
        (empty > 0, sa.case((starts < urgent, 0), (starts < soon, 1), else_=3)),
        (awaiting > 0, sa.case((starts < soon, 2), else_=4)),
        else_=5,
    )
    return (
        sessions.with_only_columns(
            TrainingSession.id,
            starts,
            empty.label("empty"),
            awaiting.label("awaiting"),
            lead_missing.label("lead_missing"),
            rank.label("urgency_rank"),
        )
        .outerjoin(SessionRole, SessionRole.session_id == TrainingSession.id)
        .outerjoin(proposals, proposals.c.role_id == SessionRole.id)
        .group_by(TrainingSession.id, starts)
        .subquery()
    )


def by_urgency(
    sessions: sa.Select[Any], now: datetime, limit: int, offset: int
) -> tuple[list[tuple[TrainingSession, int, int, bool, int]], Summary, int]:
    """A page of (session, empty, awaiting, lead missing, rank), the sessions' roles
    loaded: empty seats soonest first, then unanswered proposals, then staffed sessions;
    by start time within each. With the strip over every session `sessions` selects and
    their number, from the same query (window sums: the seats are counted once)."""
    needs = _needs(sessions, now).c
    rows = db.session.execute(
        sa.select(
            needs.id,
            needs.empty,
            needs.awaiting,
            needs.lead_missing,
            needs.urgency_rank,
            sa.func.count().over(),
            *_strip_columns(needs, now, over=True),
        )
        .order_by(needs.urgency_rank, needs.starts_at, needs.id)
        .limit(limit)
        .offset(offset)
    ).all()
    if not rows:  # past the end: no row carries the sums
        return [], summary(sessions, now), count(sessions)
    loaded = {
        s.id: s
        for s in db.session.scalars(
            sa.select(TrainingSession)
            .where(TrainingSession.id.in_([r[0] for r in rows]))
            .options(sa.orm.selectinload(TrainingSession.roles))
        )
    }
    page = [(loaded[r[0]], int(r[1]), int(r[2]), bool(r[3]), int(r[4])) for r in rows]
    return page, Summary(*(int(v) for v in rows[0][6:])), int(rows[0][5])


def needs_of(
    row: tuple[TrainingSession, int, int, bool, int], staffing: list[dict[str, Any]]
) -> SessionNeeds:
    """A card: the session's counts and rank from `by_urgency`, its roles' states."""
    session, empty, awaiting, lead_missing, rank = row
    roles = [{**r, "state": role_state(r)} for r in staffing]
    return SessionNeeds(session, roles, empty, awaiting, lead_missing, rank)


@dataclass(frozen=True)
class Summary:
    lead_missing_this_week: int  # sessions in the next 7 days without a confirmed lead
    empty_this_week: int  # sessions in the next 7 days with a seat nobody holds
    awaiting: int  # seats waiting for a volunteer's answer, all weeks
    staffed: int


def _strip_columns(needs: Any, now: datetime, over: bool = False) -> list[Any]:
    """The strip's four figures as sums over `needs` (columns empty, awaiting,
    lead_missing, starts_at), in Summary's order; `over`: as window sums over every row."""
    week = needs.starts_at < now + timedelta(days=SOON_DAYS)

    def total(expression: Any) -> Any:
        summed = sa.func.sum(expression)
        return summed.over() if over else sa.func.coalesce(summed, 0)

    def sessions_where(condition: Any) -> Any:
        return total(sa.case((condition, 1), else_=0))

    return [
        sessions_where(sa.and_(week, needs.lead_missing == 1)),
        sessions_where(sa.and_(week, needs.empty > 0)),
        total(needs.awaiting),
        sessions_where(sa.and_(needs.empty == 0, needs.awaiting == 0)),
    ]


def summary(sessions: sa.Select[Any], now: datetime) -> Summary:
    """The strip, over every session `sessions` selects (one query; `by_urgency` gives
    it with a page, this is for a page past the end)."""
    needs = _needs(sessions, now)
    row = db.session.execute(sa.select(*_strip_columns(needs.c, now))).one()
    return Summary(*(int(value) for value in row))
