"""Volunteers' hours, per volunteer and per squad. Plain functions, no HTTP.

A volunteer's hours are the lengths of the sessions they worked: sessions that have
ended and were not cancelled, where they held a confirmed booking whose attendance the
lead recorded as `attended` or `late`, or has not recorded yet while the volunteer said
they came (the post-session ask); `no_show` and `excused` do not count, and the
no-shows are counted apart (shown to organizers only).
A squad's hours are person-hours: the sum over the confirmed bookings made with that
squad (`Assignment.squad_id`) that count, whoever made them and whether or not they are
still members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from coordinator import replica
from coordinator.bookings.models import WORKED_ATTENDANCE, Assignment, AssignmentStatus
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.progress.operations import year_start
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.squads.models import Squad

GROUPINGS = ("volunteer", "squad")


@dataclass
class Hours:
    """Time worked by one volunteer or one squad."""

    id: int
    name: str
    minutes: int = 0
    sessions: int = 0
    volunteers: int = 0  # squads: the volunteers who worked with it
    home_ward: str = ""
    no_shows: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)


@dataclass
class HoursPage:
    """One page of the list, most hours first, with the count and hours of the whole."""

    rows: list[Hours]
    total: int  # volunteers or squads listed over every page
    total_minutes: int

    @property
    def total_hours(self) -> float:
        return round(self.total_minutes / 60, 2)


def _minutes(starts: Any, ends: Any) -> sa.ColumnElement[int]:
    """Whole minutes from `starts` to `ends`, in SQL (PostgreSQL or SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        seconds = sa.func.extract("epoch", ends - starts)
        return sa.cast(sa.func.floor(seconds / 60), sa.Integer)
    rounded = sa.func.round((sa.func.julianday(ends) - sa.func.julianday(starts)) * 86400)
    return sa.cast(rounded, sa.Integer) // 60


def _ended_bookings(year: int | None, now: datetime | None) -> sa.Select[Any]:
    query = (
        sa.select(Assignment.volunteer_id)
        .join(TrainingSession, TrainingSession.id == Assignment.session_id)
        .where(
            Assignment.status == AssignmentStatus.CONFIRMED,
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.ends_at <= (now or utcnow()),
        )
    )
    if year is not None:
        query = query.where(
            TrainingSession.starts_at >= year_start(year),
            TrainingSession.starts_at < year_start(year + 1),
        )
    return query


# A booking that counts: the lead recorded `attended` or `late`, or has not recorded it
# yet and the volunteer said they came (the post-session ask pre-fills the sheet so).
WORKED = sa.or_(
    Assignment.attendance.in_(WORKED_ATTENDANCE),
    sa.and_(Assignment.attendance.is_(None), Assignment.self_reported_at.is_not(None)),
)


def _volunteer_sums(year: int | None, now: datetime | None) -> sa.Subquery:
    """Per volunteer with hours or no-shows: minutes, sessions, no_shows (one row each)."""
    minutes = _minutes(TrainingSession.starts_at, TrainingSession.ends_at)
    worked_session = sa.case((WORKED, TrainingSession.id))
    return (
        _ended_bookings(year, now)
        .with_only_columns(
            Assignment.volunteer_id.label("id"),
            sa.func.coalesce(sa.func.sum(sa.case((WORKED, minutes), else_=0)), 0).label("minutes"),
            sa.func.count(sa.distinct(worked_session)).label("sessions"),
            sa.func.coalesce(
                sa.func.sum(sa.case((Assignment.attendance == "no_show", 1), else_=0)), 0
            ).label("no_shows"),
            sa.literal(0).label("volunteers"),
        )
        .group_by(Assignment.volunteer_id)
        .having(
            sa.or_(
                sa.func.count(worked_session) > 0,
                sa.func.sum(sa.case((Assignment.attendance == "no_show", 1), else_=0)) > 0,
            )
        )
        .subquery()
    )


def _squad_sums(year: int | None, now: datetime | None) -> sa.Subquery:
    """Per squad with bookings that count: person-minutes, sessions, volunteers."""
    minutes = _minutes(TrainingSession.starts_at, TrainingSession.ends_at)
    return (
        _ended_bookings(year, now)
        .with_only_columns(
            Assignment.squad_id.label("id"),
            sa.func.sum(minutes).label("minutes"),
            sa.func.count(sa.distinct(TrainingSession.id)).label("sessions"),
            sa.literal(0).label("no_shows"),
            sa.func.count(sa.distinct(Assignment.volunteer_id)).label("volunteers"),
        )
        .where(WORKED, Assignment.squad_id.is_not(None))
        .group_by(Assignment.squad_id)
        .subquery()
    )


def _sums(by: str, year: int | None, now: datetime | None) -> sa.Subquery:
    return _squad_sums(year, now) if by == "squad" else _volunteer_sums(year, now)


def _ordered(sums: sa.Subquery, by: str) -> sa.Select[Any]:
    """Most hours first, then by name and id (a stable order for pages)."""
    owner = Squad if by == "squad" else Volunteer
    name = Squad.name if by == "squad" else Volunteer.full_name
    return (
        sa.select(sums, name.label("name"), owner.home_ward)
        .join(owner, owner.id == sums.c.id)
        .order_by(sums.c.minutes.desc(), name, sums.c.id)
    )


def _hours(row: Any) -> Hours:
    return Hours(
        id=row.id,
        name=row.name,
        minutes=int(row.minutes or 0),
        sessions=row.sessions,
        volunteers=row.volunteers,
        home_ward=row.home_ward,
        no_shows=int(row.no_shows or 0),
    )


def hours_page(
    by: str,
    year: int | None = None,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> HoursPage:
    """Volunteers' (or squads', `by`) hours, most first: `limit` rows from `offset`
    (None: all), summed in SQL, so a page costs two queries at any size. `year`:
    sessions starting that year."""
    sums = _sums(by, year, now)
    # The totals in the same pass (window functions run before LIMIT).
    query = (
        _ordered(sums, by)
        .add_columns(
            sa.func.count().over().label("listed"),
            sa.func.sum(sums.c.minutes).over().label("all_minutes"),
        )
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    found = db.session.execute(query).all()
    if found:
        total, total_minutes = found[0].listed, found[0].all_minutes
    else:  # a page past the end: count apart
        total, total_minutes = db.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sums.c.minutes), 0))
        ).one()
    return HoursPage([_hours(row) for row in found], total, int(total_minutes or 0))


def iter_hours(by: str, year: int | None = None, now: datetime | None = None) -> Iterator[Hours]:
    """Every row of `hours_page`, for a CSV that streams: the query is built now, and
    read a batch at a time on a connection of its own while the response is sent (after
    the request's context, and its session, are gone)."""
    query = _ordered(_sums(by, year, now), by)
    engine = replica.engine()  # a report: the replica when there is one

    def rows() -> Iterator[Hours]:
        with engine.connect() as connection:
            for row in connection.execution_options(yield_per=1000).execute(query):
                yield _hours(row)

    return rows()


def volunteer_hours(year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """Each volunteer with hours or no-shows, most hours first (`year`: sessions starting
    that year)."""
    return hours_page("volunteer", year, now).rows


def squad_hours(year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """Each squad with person-hours from the bookings made with it, most first."""
    return hours_page("squad", year, now).rows


def hours_by(by: str, year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """volunteer_hours or squad_hours, by name."""
    return hours_page(by, year, now).rows
