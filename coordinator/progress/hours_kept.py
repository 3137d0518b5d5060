"""Volunteers' hours kept as a summary: one row per volunteer (per squad) and plan year
(0: every year), written by the progress counts' refresh job from `hours`' own queries
(one definition of what counts: `hours.WORKED`), so that a page of the hours list is an
index scan of the summary instead of a sum over every booking of the country.

The summary holds the sessions that had ended when it was written (`hours_until`), and
the change number of what the hours read (bookings, sessions, volunteers' and squads'
names: `counts.HOURS_WATCHED`). It answers only while both still hold: nothing changed
since, and no session ended since; otherwise the hours are summed from the raw rows
(and, when only time moved on, a refresh is scheduled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.progress import counts, hours
from coordinator.progress.hours import GROUPINGS, Hours, HoursPage
from coordinator.sessions.models import SessionStatus, TrainingSession

EVERY_YEAR = 0  # the year of the rows that sum every year


class KeptHours(db.Model):
    """The hours of one volunteer or squad (`by`) in one plan year (0: every year)."""

    __tablename__ = "hours_kept"
    __table_args__ = (
        # a page in the list's order: most hours first (scanned backwards; ties by name
        # and id are sorted incrementally)
        sa.Index("ix_hours_kept_order", "by", "year", "minutes"),
    )

    by: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(200))
    home_ward: Mapped[str | None] = mapped_column(sa.String(64))
    minutes: Mapped[int]
    sessions: Mapped[int]
    volunteers: Mapped[int]
    no_shows: Mapped[int]


_COLUMNS = ("id", "name", "home_ward", "minutes", "sessions", "volunteers", "no_shows")


def _years(now: datetime) -> list[int]:
    """The plan years of the sessions that have ended."""
    first, last = db.session.execute(
        sa.select(
            sa.func.min(TrainingSession.starts_at), sa.func.max(TrainingSession.starts_at)
        ).where(TrainingSession.ends_at <= now)
    ).one()
    if first is None:
        return []
    zone = hours.year_start(2000).tzinfo
    return list(range(first.astimezone(zone).year, last.astimezone(zone).year + 1))


def refresh(now: datetime | None = None) -> int:
    """Recompute the kept hours as of `now`; the number of rows written (the caller
    commits; idempotent)."""
    now = now or utcnow()
    state = db.session.get(counts.ProgressCountsState, 1)
    assert state is not None  # counts.refresh, which runs first, makes it
    seen = state.hours_changes  # first the number, then the rows (as counts.refresh)
    db.session.execute(sa.delete(KeptHours))
    written = 0
    for year in [None, *_years(now)]:
        for by in GROUPINGS:
            sums = hours._ordered(hours._sums(by, year, now), by).subquery()
            chosen = sa.select(
                sa.literal(by),
                sa.literal(EVERY_YEAR if year is None else year),
                *(sums.c[name] for name in _COLUMNS),
            )
            result = db.session.execute(
                sa.insert(KeptHours).from_select(["by", "year", *_COLUMNS], chosen)
            )
            written += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    db.session.execute(
        sa.update(counts.ProgressCountsState)
        .where(counts.ProgressCountsState.id == 1)
        .values(hours_refreshed_changes=seen, hours_until=now)
    )
    db.session.info.pop(counts.HOURS_CHANGED, None)
    return written


def _usable(now: datetime) -> bool:
    """Nothing the hours read changed, and no session ended, since the refresh."""
    state = db.session.execute(sa.select(counts.ProgressCountsState)).scalar_one_or_none()
    if state is None or state.hours_until is None:
        return False
    if state.hours_changes != state.hours_refreshed_changes:
        return False
    ended_since = db.session.scalar(
        sa.select(
            sa.exists().where(
                TrainingSession.ends_at > state.hours_until,
                TrainingSession.ends_at <= now,
                TrainingSession.status != SessionStatus.CANCELLED,
            )
        )
    )
    if ended_since:
        # time moved on: a refresh gives the next readers the summary again
        counts._schedule_refresh(counts.HOURS_REFRESH_DELAY, postpone=False)
        return False
    return True


def _hours(row: Any) -> Hours:
    return Hours(
        id=row.id,
        name=row.name,
        minutes=row.minutes,
        sessions=row.sessions,
        volunteers=row.volunteers,
        home_ward=row.home_ward,
        no_shows=row.no_shows,
    )


def hours_page(
    by: str,
    year: int | None = None,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> HoursPage:
    """`hours.hours_page`, from the summary while it holds (three statements: its state,
    the page, the totals), else from the raw rows."""
    if now is None and limit is not None and _usable(utcnow()):
        where = (KeptHours.by == by, KeptHours.year == (EVERY_YEAR if year is None else year))
        found = db.session.scalars(
            sa.select(KeptHours)
            .where(*where)
            .order_by(KeptHours.minutes.desc(), KeptHours.name, KeptHours.id)
            .limit(limit)
            .offset(offset)
        ).all()
        total, minutes = db.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(KeptHours.minutes), 0)).where(
                *where
            )
        ).one()
        return HoursPage([_hours(row) for row in found], total, int(minutes))
    return hours.hours_page(by, year, now, limit=limit, offset=offset)
