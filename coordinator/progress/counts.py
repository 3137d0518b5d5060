"""Maintained progress counts: per unit, target group and plan year, how many people
enrolled and how many reached basic skills for the first time that year. A report then
sums a few rows per unit instead of counting distinct people over every registration
and assessment at each request (`operations.progress` reads them when they are fresh).

The table is a summary refreshed by a job (`refresh`, on RQ after a change, and by
`flask progress refresh-counts`): the figures it holds are those of `operations`'
definitions, recomputed in one statement. Freshness: every transaction that writes a
table the figures read (participants, registrations, assessments, sessions) adds one to
`progress_counts_state.changes` right after it commits; a refresh records the number it
started from. Counts whose number is behind are stale, and a report counts from the raw
rows instead, so a report is never out of date, only slower until the next refresh.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from coordinator.bookings.models import Registration
from coordinator.database import UTCDateTime
from coordinator.extensions import db
from coordinator.people.models import Participant
from coordinator.progress.models import Assessment
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession

log = logging.getLogger(__name__)

# The columns the figures read, per table: a write to one makes the counts stale (a
# sign-up, which only moves a session's counters, does not).
WATCHED = {
    "participants": frozenset({"id", "ward", "target_group", "erased_at"}),
    "registrations": frozenset({"id", "session_id", "participant_id", "status"}),
    "assessments": frozenset({"id", "participant_id", "reached_basic", "assessed_at"}),
    "training_sessions": frozenset({"id", "starts_at", "status"}),
    # and what the report rows kept per level (levels.py) read besides the counts
    "population_targets": frozenset(
        {"id", "ward", "province_code", "target_group", "year", "baseline"}
        | {"target_percent", "reached_before"}
    ),
    "erased_participant_counts": frozenset({"id", "ward", "target_group", "enrolled", "reached"}),
    "wards": frozenset({"code", "name", "province_code"}),
    "provinces": frozenset({"code", "name"}),
    "ward_successors": frozenset({"predecessor_code", "successor_code", "main"}),
}
# The columns volunteers' hours read (hours.py keeps a summary of them too, with its own
# change number: a sign-up changes the hours' inputs, not the progress figures').
HOURS_WATCHED = {
    "assignments": frozenset({"id", "volunteer_id", "session_id", "squad_id", "status"})
    | {"attendance", "self_reported_at"},  # what hours.WORKED reads
    "training_sessions": frozenset({"id", "starts_at", "ends_at", "status"}),
    "volunteers": frozenset({"id", "full_name", "home_ward"}),
    "squads": frozenset({"id", "name", "home_ward"}),
}
CHANGED = "progress_counts_changed"  # Session.info key: this transaction wrote one
HOURS_CHANGED = "hours_changed"  # ... one the hours read
PENDING = "progress_counts_pending"  # ... committed, to record once the connection is back
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the plan years a report may ask for
REFRESH_DELAY = timedelta(seconds=5)  # changes in a burst share one refresh
# Bookings change all day (every sign-up): the hours wait longer for their refresh, and
# are summed from raw rows meanwhile.
HOURS_REFRESH_DELAY = timedelta(seconds=60)


class ProgressCount(db.Model):
    """People of a unit and group whose first enrolment (first reach) fell in `year`,
    local time. Before FIRST_YEAR counts as FIRST_YEAR - 1, after LAST_YEAR as
    LAST_YEAR + 1."""

    __tablename__ = "progress_counts"

    ward: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    target_group: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    enrolled: Mapped[int] = mapped_column(default=0)
    reached: Mapped[int] = mapped_column(default=0)


class ProgressCountsState(db.Model):
    """One row: how many changes were committed, and up to which the counts are true."""

    __tablename__ = "progress_counts_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    changes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refreshed_changes: Mapped[int] = mapped_column(sa.BigInteger, default=-1)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The change number and plan years of the report rows kept per level (levels.py).
    levels_changes: Mapped[int] = mapped_column(sa.BigInteger, default=-1)
    levels_first_year: Mapped[int | None]
    levels_last_year: Mapped[int | None]
    # Volunteers' hours (hours.py): changes to what they read, and up to which change
    # and moment (sessions ended by then) the kept hours are true.
    hours_changes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hours_refreshed_changes: Mapped[int] = mapped_column(sa.BigInteger, default=-1)
    hours_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- freshness ----------------------------------------------------------------------


def _watched(session: Session, watched: dict[str, frozenset[str]]) -> bool:
    """The flush writes a row, or a column, the figures read."""
    for obj in chain(session.new, session.deleted):
        if getattr(obj, "__tablename__", None) in watched:
            return True
    for obj in session.dirty:
        columns = watched.get(getattr(obj, "__tablename__", ""))
        if columns:
            state = sa.inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in columns):
                return True
    return False


@sa.event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    # (the history is still the flush's here). The hours' own listener (hours_kept)
    # keeps their summary up to date row by row instead.
    if _watched(session, WATCHED):
        session.info[CHANGED] = True


def _set_columns(statement: Any) -> set[str] | None:
    """The columns an UPDATE sets (None: not known, say all)."""
    values = getattr(statement, "_values", None)
    if not values:
        return None
    return {getattr(key, "key", None) or getattr(key, "name", None) or str(key) for key in values}


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: Any) -> None:
    """Bulk UPDATE / DELETE / INSERT statements (a cancelled session's registrations);
    an UPDATE of columns the figures do not read (a counter) changes nothing."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(getattr(state.statement, "table", None), "name", "")
    for watched, key in ((WATCHED, CHANGED), (HOURS_WATCHED, HOURS_CHANGED)):
        columns = watched.get(table)
        if columns is None:
            continue
        written = _set_columns(state.statement) if state.is_update else None
        if written is None or written & columns:
            state.session.info[key] = True


@sa.event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED, None)
    session.info.pop(HOURS_CHANGED, None)


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changed = {
        column: 1
        for key, column in ((CHANGED, "changes"), (HOURS_CHANGED, "hours_changes"))
        if session.info.pop(key, False)
    }
    if changed:  # written once the transaction has given its connection back
        session.info[PENDING] = {**session.info.get(PENDING, {}), **changed}


@sa.event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    """Record the committed change in a short transaction of its own. Not in
    after_commit: the session still holds its connection there, so fifty requests at
    once would each wait for a second connection from a pool they had emptied."""
    if transaction.parent is not None or PENDING not in session.info:
        return
    changed = session.info.pop(PENDING)
    bind = session.get_bind()
    try:
        with bind.engine.begin() as connection:  # the counts become stale
            connection.execute(
                sa.update(ProgressCountsState).values(
                    {column: getattr(ProgressCountsState, column) + 1 for column in changed}
                )
            )
    except sa.exc.SQLAlchemyError:
        # Could not say so: forget the counts (the next refresh writes them again).
        log.exception("progress counts: could not record a change; dropping them")
        with bind.engine.begin() as connection:
            connection.execute(sa.delete(ProgressCountsState))
        return
    if "changes" in changed:
        _schedule_refresh()
    else:
        _schedule_refresh(HOURS_REFRESH_DELAY, postpone=False)


def _schedule_refresh(delay: timedelta = REFRESH_DELAY, postpone: bool = True) -> None:
    """Schedule the refresh job after `delay`; one already scheduled is moved there, or,
    without `postpone`, left as it is (bookings change all day: a refresh that every
    sign-up moved on would never run)."""
    from flask import current_app, has_app_context

    if not has_app_context() or not current_app.config.get("PROGRESS_COUNTS_REFRESH", True):
        return
    from coordinator import background  # the app's queues (imported late: no cycle)

    try:
        if not postpone and _refresh_pending(background.get_queue()):
            return
        background.enqueue(
            background.REFRESH_PROGRESS_COUNTS, job_id="progress-counts", delay=delay
        )
    except Exception:  # Redis away: the counts stay stale, reports count raw rows
        log.warning("progress counts: refresh not scheduled (Redis unavailable)")


def _refresh_pending(queue: Any) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch("progress-counts", connection=queue.connection)
    except NoSuchJobError:
        return False
    return job.get_status() in (JobStatus.SCHEDULED, JobStatus.QUEUED)


def fresh() -> bool:
    """The counts hold every committed change."""
    row = db.session.execute(
        sa.select(ProgressCountsState.changes, ProgressCountsState.refreshed_changes)
    ).first()
    return row is not None and row.changes == row.refreshed_changes


# --- refresh --------------------------------------------------------------------------


def _year_of(moment: Any) -> sa.Case[Any]:
    """The local plan year of a timestamp column, as a CASE over the years' starts (the
    same on PostgreSQL and SQLite, which has no time zones)."""
    zone = display_timezone()
    whens = [
        (moment < sa.literal(datetime(year + 1, 1, 1, tzinfo=zone), UTCDateTime()), year)
        for year in range(FIRST_YEAR - 1, LAST_YEAR + 1)
    ]
    return sa.case(*whens, else_=LAST_YEAR + 1)


def _firsts() -> sa.Select[Any]:
    """(ward, group, year, enrolled, reached) per person's first enrolment and first
    reach, as operations._enrolled and _reached count them."""
    enrolled = (
        sa.select(Registration.participant_id, sa.func.min(TrainingSession.starts_at).label("at"))
        .join(TrainingSession, TrainingSession.id == Registration.session_id)
        .where(Registration.status == "registered", TrainingSession.status != "cancelled")
        .group_by(Registration.participant_id)
        .subquery()
    )
    reached = (
        sa.select(Assessment.participant_id, sa.func.min(Assessment.assessed_at).label("at"))
        .where(Assessment.reached_basic.is_(True))
        .group_by(Assessment.participant_id)
        .subquery()
    )
    parts = [
        sa.select(
            Participant.ward.label("ward"),
            Participant.target_group.label("target_group"),
            _year_of(first.c.at).label("year"),
            sa.literal(one).label("enrolled"),
            sa.literal(1 - one).label("reached"),
        )
        .join(first, first.c.participant_id == Participant.id)
        .where(Participant.erased_at.is_(None))
        for first, one in ((enrolled, 1), (reached, 0))
    ]
    # Every unit and group with people (a row of zeros at least): a report lists them.
    parts.append(
        sa.select(
            Participant.ward,
            Participant.target_group,
            sa.literal(FIRST_YEAR - 1),
            sa.literal(0),
            sa.literal(0),
        ).where(Participant.erased_at.is_(None))
    )
    both = sa.union_all(*parts).subquery()
    return sa.select(
        both.c.ward,
        both.c.target_group,
        both.c.year,
        sa.func.sum(both.c.enrolled),
        sa.func.sum(both.c.reached),
    ).group_by(both.c.ward, both.c.target_group, both.c.year)


def refresh() -> int:
    """Recompute every count from the raw rows; the number of rows written (the caller
    commits)."""
    state = db.session.get(ProgressCountsState, 1)
    if state is None:
        db.session.add(ProgressCountsState(id=1, changes=0, refreshed_changes=-1))
        db.session.commit()  # from here on, every change is counted on this row
    # The number first, then the rows: a change committed after this read leaves the
    # counts stale (conservative), one before it is in the rows read next.
    seen = db.session.scalar(
        sa.select(ProgressCountsState.changes).where(ProgressCountsState.id == 1)
    )
    db.session.execute(sa.delete(ProgressCount))
    columns = ["ward", "target_group", "year", "enrolled", "reached"]
    rows = [dict(zip(columns, row, strict=True)) for row in db.session.execute(_firsts())]
    if rows:
        db.session.execute(sa.insert(ProgressCount), rows)
    db.session.execute(
        sa.update(ProgressCountsState)
        .where(ProgressCountsState.id == 1)
        .values(refreshed_changes=seen, refreshed_at=sa.func.now())
    )
    db.session.info.pop(CHANGED, None)  # its own writes change nothing the counts read
    db.session.info.pop(HOURS_CHANGED, None)
    return len(rows)


def counted(
    year: int, where: sa.ColumnElement[bool], group: str | None
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Per (unit, group) within `where` (on ProgressCount.ward) that has people: those
    enrolled, and those reached, by the end of `year` (in one query)."""
    by_then = ProgressCount.year <= year
    query = (
        sa.select(
            ProgressCount.ward,
            ProgressCount.target_group,
            sa.func.sum(sa.case((by_then, ProgressCount.enrolled), else_=0)),
            sa.func.sum(sa.case((by_then, ProgressCount.reached), else_=0)),
        )
        .where(where)
        .group_by(ProgressCount.ward, ProgressCount.target_group)
    )
    if group:
        query = query.where(ProgressCount.target_group == group)
    enrolled, reached = {}, {}
    for ward, target_group, people_enrolled, people_reached in db.session.execute(query):
        enrolled[ward, target_group] = int(people_enrolled or 0)
        reached[ward, target_group] = int(people_reached or 0)
    return enrolled, reached
