"""Volunteers' hours kept as a summary: one row per volunteer (per squad) and plan year
(0: every year), written by the progress counts' refresh job from `hours`' own queries
(one definition of what counts: `hours.WORKED`), so that a page of the hours list is an
index scan of the summary instead of a sum over every booking of the country.

The summary holds the sessions that had ended when it was written (`hours_until`), and
the change number of what the hours read (bookings, sessions, volunteers' and squads'
names: `counts.HOURS_WATCHED`). It answers only while both still hold: nothing changed
since, and no session ended since; otherwise the hours are summed from the raw rows
(and, when only time moved on, a refresh is scheduled).

A change made through the ORM does not make it out of date: the transaction that makes
it rewrites the rows of the volunteers and squads it touched, with the same queries
restricted to them (`_keep_up`, just before the commit). Most changes touch none: a
booking of a session that has not ended is not in the hours yet. Bulk statements on what
the hours read still count as a change (a refresh rewrites everything a minute later).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy.orm import Mapped, Session, mapped_column

from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.progress import counts, hours
from coordinator.progress.hours import GROUPINGS, Hours, HoursPage
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.squads.models import Squad

log = logging.getLogger(__name__)

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


def _write(by: str, year: int | None, until: datetime, ids: set[int] | None = None) -> int:
    """Insert the kept rows of one grouping and year (of `ids` only, when given) from
    `hours`' own queries as of `until`; the number written."""
    sums = hours._ordered(hours._sums(by, year, until), by)
    if ids is not None:
        owner = Squad if by == "squad" else Volunteer
        sums = sums.where(owner.id.in_(sorted(ids)))
    rows = sums.subquery()
    chosen = sa.select(
        sa.literal(by),
        sa.literal(EVERY_YEAR if year is None else year),
        *(rows.c[name] for name in _COLUMNS),
    )
    result = db.session.execute(sa.insert(KeptHours).from_select(["by", "year", *_COLUMNS], chosen))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def _lock_state(*, share: bool) -> counts.ProgressCountsState | None:
    """The state row, locked (PostgreSQL; SQLite runs one writer at a time): the refresh
    takes it exclusively, a transaction keeping the summary up to date shares it, so
    neither rewrites rows the other is writing from an older picture."""
    return db.session.scalars(
        sa.select(counts.ProgressCountsState)
        .where(counts.ProgressCountsState.id == 1)
        .with_for_update(read=share)
        .execution_options(populate_existing=True)
    ).one_or_none()


def refresh(now: datetime | None = None) -> int:
    """Recompute the kept hours as of `now`; the number of rows written (the caller
    commits; idempotent)."""
    now = now or utcnow()
    state = _lock_state(share=False)
    assert state is not None  # counts.refresh, which runs first, makes it
    seen = state.hours_changes  # first the number, then the rows (as counts.refresh)
    db.session.execute(sa.delete(KeptHours))
    written = 0
    for year in [None, *_years(now)]:
        for by in GROUPINGS:
            written += _write(by, year, now)
    db.session.execute(
        sa.update(counts.ProgressCountsState)
        .where(counts.ProgressCountsState.id == 1)
        .values(hours_refreshed_changes=seen, hours_until=now)
    )
    db.session.info.pop(counts.HOURS_CHANGED, None)
    db.session.info.pop(TOUCHED, None)
    return written


# --- kept up to date by the transactions that change what the hours read ---------------

TOUCHED = "hours_touched"  # Session.info: the Touched of the transaction's flushes


@dataclass
class Touched:
    """What a transaction's flushes changed that the hours read."""

    volunteers: set[int] = field(default_factory=set)  # renamed, moved, or deleted
    squads: set[int] = field(default_factory=set)
    # bookings: (session, volunteer, squad), before and after the change
    bookings: set[tuple[int | None, int | None, int | None]] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)  # times or status changed
    # the end of a booking's session when the flush found it loaded: no query for it
    ends: dict[int, datetime | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.volunteers or self.squads or self.bookings or self.sessions)


def _changed(obj: Any, columns: frozenset[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns)


def _before_and_after(obj: Any, name: str) -> set[Any]:
    history = sa.inspect(obj).attrs[name].history
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}


@sa.event.listens_for(Session, "after_flush")
def _note(session: Session, _context: Any) -> None:
    """Note what the flush changed that the hours read (its history is still there)."""
    watched = counts.HOURS_WATCHED
    touched = Touched()
    for obj in [*session.new, *session.deleted, *session.dirty]:
        table = getattr(obj, "__tablename__", "")
        if table not in watched:
            continue
        if obj in session.dirty and not _changed(obj, watched[table]):
            continue
        if isinstance(obj, Assignment):
            for session_id in _before_and_after(obj, "session_id"):
                for volunteer_id in _before_and_after(obj, "volunteer_id"):
                    for squad_id in _before_and_after(obj, "squad_id"):
                        touched.bookings.add((session_id, volunteer_id, squad_id))
                loaded = session.identity_map.get(session.identity_key(TrainingSession, session_id))
                if loaded is not None and "ends_at" in sa.inspect(loaded).dict:
                    touched.ends[session_id] = loaded.ends_at
        elif isinstance(obj, TrainingSession) and obj not in session.new:
            touched.sessions.add(obj.id)  # a new one has no bookings yet
        elif isinstance(obj, Volunteer) and obj not in session.new:
            touched.volunteers.add(obj.id)
        elif isinstance(obj, Squad) and obj not in session.new:
            touched.squads.add(obj.id)
    if touched:
        noted = session.info.setdefault(TOUCHED, Touched())
        noted.volunteers |= touched.volunteers
        noted.squads |= touched.squads
        noted.bookings |= touched.bookings
        noted.sessions |= touched.sessions
        noted.ends.update(touched.ends)


@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(TOUCHED, None)


@sa.event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # before_commit comes before the commit's own flush
    touched = session.info.pop(TOUCHED, None)
    if not touched or session.info.get(counts.HOURS_CHANGED):
        return  # nothing, or a bulk write: the change number says so, a refresh follows
    if not has_app_context() or session is not db.session():
        session.info[counts.HOURS_CHANGED] = True  # not the app's session: just count it
        return
    try:
        kept = _to_rewrite(session, touched)
        if kept is not None:
            with session.begin_nested():
                _rewrite(session, *kept)
    except Exception:  # the change itself must commit: the summary only goes stale
        log.exception("kept hours: could not bring them up to date; counted as a change")
        session.info[counts.HOURS_CHANGED] = True


def _to_rewrite(session: Session, touched: Touched) -> tuple[datetime, set[int], set[int]] | None:
    """The summary's moment and the volunteers and squads whose kept rows `touched`
    changes (sessions ended by then), or None when there are none; when the summary is
    out of date anyway, None and the change only counts (the next refresh rewrites it
    all). Reads only."""
    now = utcnow()
    # A session that ends after now is not in the summary (its hours_until is earlier):
    # the usual booking change ends here, mostly without a query (the flush saw the
    # booking's session loaded).
    unknown = set()
    for session_id in {s for s, _v, _q in touched.bookings if s is not None}:
        ends = touched.ends.get(session_id)
        if ends is None or ends <= now:
            unknown.add(session_id)
    ended = set(
        session.scalars(
            sa.select(TrainingSession.id).where(
                TrainingSession.id.in_(sorted(unknown)), TrainingSession.ends_at <= now
            )
        )
        if unknown
        else ()
    )
    # (a session's times may have moved from the past: its bookings, whatever now holds)
    sessions_in = ended | touched.sessions
    if not (sessions_in or touched.volunteers or touched.squads):
        return None
    state = _lock_state(share=True)
    if (
        state is None
        or state.hours_until is None
        or state.hours_changes != state.hours_refreshed_changes
    ):
        session.info[counts.HOURS_CHANGED] = True
        return None
    volunteers, squads = set(touched.volunteers), set(touched.squads)
    for booked_in, booked, squad in touched.bookings:
        if booked_in in sessions_in and booked is not None:
            volunteers.add(booked)
        if booked_in in sessions_in and squad is not None:
            squads.add(squad)
    if touched.sessions:
        for volunteer_id, squad_id in session.execute(
            sa.select(Assignment.volunteer_id, Assignment.squad_id).where(
                Assignment.session_id.in_(sorted(touched.sessions))
            )
        ):
            volunteers.add(volunteer_id)
            if squad_id is not None:
                squads.add(squad_id)
    return state.hours_until, volunteers, squads


def _rewrite(session: Session, until: datetime, volunteers: set[int], squads: set[int]) -> None:
    """The kept rows of these volunteers and squads, as a refresh at `until` writes them."""
    years = [None, *_years(until)]
    for by, ids in (("volunteer", volunteers), ("squad", squads)):
        if not ids:
            continue
        owner = Squad if by == "squad" else Volunteer
        session.execute(  # in id order: two transactions never wait on each other's
            sa.select(owner.id)
            .where(owner.id.in_(sorted(ids)))
            .order_by(owner.id)
            .with_for_update()
        ).all()
        session.execute(
            sa.delete(KeptHours).where(KeptHours.by == by, KeptHours.id.in_(sorted(ids)))
        )
        for year in years:
            _write(by, year, until, ids)


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
