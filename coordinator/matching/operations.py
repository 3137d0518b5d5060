"""Matching runs: asked for, run on a worker, and written back in one transaction.

A run loads its window, solves it with the pure engine, then writes the difference
between the matcher's proposals there and the new plan: retract, keep, add. A session
changed since it was read, or a volunteer whose bookings changed since, is left alone
and a new run is scheduled, so a run never overrides something decided after it began.
"""

from __future__ import annotations

import bisect
import gc
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.util import identity_key

from coordinator import clock
from coordinator.bookings import counters
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.bookings.operations import deadline_for, require_transition
from coordinator.database import utcnow
from coordinator.errors import Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.models import Ward, ward_neighbors
from coordinator.matching import loader
from coordinator.matching.engine import fits, repair, solver
from coordinator.matching.engine.problem import Plan, Proposal, Unfilled
from coordinator.matching.engine.solver import Progress
from coordinator.matching.loader import among, chunked
from coordinator.matching.models import MatchingRun, RunStatus
from coordinator.matching.schemas import ProposalSchema, UnfilledSchema
from coordinator.notifications.texts import say
from coordinator.paging import count
from coordinator.people.scopes import Scope, current_scope
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.web.labels import N_

log = logging.getLogger(__name__)
DEFAULT_WINDOW = timedelta(days=31)
MAX_WINDOW = timedelta(days=366)
FIT_HORIZON = timedelta(days=60)  # how far ahead a volunteer's sessions that fit look


RECENT_RUNS = 50


def _visible(run: MatchingRun | sa.Row[Any], scope: Scope) -> bool:
    """A run is the caller's when every unit it plans is within their scope."""
    return scope.covers(run.ward) if run.ward else scope.covers_all(run.units)


def get_run(run_id: int) -> MatchingRun:
    """A run planning units of the caller's scope; others answer like a missing id."""
    run = db.session.get(MatchingRun, run_id)
    if run is None or not _visible(run, current_scope()):
        raise NotFound(say(N_("Matching run not found.")))
    return run


def runs_page(limit: int, offset: int = 0) -> tuple[list[MatchingRun], int]:
    """`limit` of the caller's runs from `offset`, newest first (by id), and how many
    there are. A scoped organizer's are found by reading only the units of every run
    (a JSON list: checked in Python), then the page's runs are loaded."""
    scope = current_scope()
    query = sa.select(MatchingRun).where(MatchingRun.parent_id.is_(None))
    if scope.national:
        page = query.order_by(MatchingRun.id.desc()).limit(limit).offset(offset)
        return list(db.session.scalars(page)), count(query)
    units = query.where(
        sa.or_(MatchingRun.ward.is_not(None), MatchingRun.units.is_not(None))
    ).with_only_columns(MatchingRun.id, MatchingRun.ward, MatchingRun.units)
    ids = [
        row.id
        for row in db.session.execute(units.order_by(MatchingRun.id.desc()))
        if _visible(row, scope)
    ]
    shown = ids[offset : offset + limit]
    if not shown:
        return [], len(ids)
    runs = db.session.scalars(
        sa.select(MatchingRun).where(MatchingRun.id.in_(shown)).order_by(MatchingRun.id.desc())
    )
    return list(runs), len(ids)


def recent_runs(limit: int = RECENT_RUNS) -> list[MatchingRun]:
    """The caller's most recent runs, newest first. Which units a run plans is a JSON
    list, so runs are read newest first in batches and kept in Python."""
    scope = current_scope()
    # A large run's parts show in the run they belong to (its stats list them).
    query = (
        sa.select(MatchingRun)
        .where(MatchingRun.parent_id.is_(None))
        .order_by(MatchingRun.id.desc())
    )
    if scope.national:
        return list(db.session.scalars(query.limit(limit)))
    kept: list[MatchingRun] = []
    # National runs (units NULL, no ward) are never a scoped organizer's.
    query = query.where(sa.or_(MatchingRun.ward.is_not(None), MatchingRun.units.is_not(None)))
    for run in db.session.scalars(query.execution_options(yield_per=200)):
        if _visible(run, scope):
            kept.append(run)
            if len(kept) == limit:
                break
    return kept


def start_run(
    ward: str | None,
    requested_by: int | None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
) -> MatchingRun:
    """An organizer's run: of one ward of their units, or of all their units (recorded
    on the run, so the worker plans those only)."""
    scope = current_scope()
    if ward is not None:
        scope.require(ward)
    return request_run(
        ward=ward,
        units=None if ward else scope.units,
        window_from=window_from,
        window_to=window_to,
        requested_by=requested_by,
    )


def request_run(
    *,
    ward: str | None = None,
    units: list[str] | None = None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
    requested_by: int | None = None,
    kind: str = "full",
    coalesce_key: str | None = None,
) -> MatchingRun:
    """A queued run and the outbox event that will start it on a worker."""
    window_from = window_from or utcnow()
    window_to = window_to or window_from + DEFAULT_WINDOW
    if window_to <= window_from:
        raise Invalid.field("to", say(N_("Must be after 'from'.")))
    if window_to - window_from > MAX_WINDOW:
        raise Invalid.field("to", say(N_("At most one year.")))
    run = MatchingRun(
        status=RunStatus.QUEUED,
        kind=kind,
        ward=ward,
        units=units,
        window_from=window_from,
        window_to=window_to,
        requested_by=requested_by,
        coalesce_key=coalesce_key,
    )
    db.session.add(run)
    db.session.flush()
    # Automatic runs wait a few seconds on the scheduler so a burst lands in one run.
    event_type = "matching.run_scheduled" if kind == "auto" else "matching.run_requested"
    event = outbox.record(event_type, "matching_run", run.id, {"run_id": run.id})
    db.session.flush()
    run.event_id = event.id
    return run


def month_window(moment: datetime) -> tuple[str, datetime, datetime]:
    """The local calendar month holding `moment`: the unit automatic runs coalesce on."""
    local = moment.astimezone(display_timezone())
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return f"auto:{first:%Y-%m}", first, following


def schedule_auto_run(moment: datetime) -> MatchingRun | None:
    """One queued run per month window however many events ask; None when one waits."""
    key, start, end = month_window(moment)
    if end <= utcnow():
        return None
    waiting = db.session.scalar(
        sa.select(MatchingRun.id).where(
            MatchingRun.coalesce_key == key, MatchingRun.status == RunStatus.QUEUED
        )
    )
    if waiting is not None:
        return None
    try:
        with db.session.begin_nested():
            return request_run(window_from=start, window_to=end, kind="auto", coalesce_key=key)
    except IntegrityError:
        return None  # another worker queued it a moment ago


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection during a run: it builds hundreds of thousands of objects
    that hold no cycles (rows, the engine's problem and candidates), and each collection
    triggered on the way walks all of them again (a third of a city's week part)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def execute(run_id: int, progress: Progress | None = None) -> MatchingRun | None:
    """Run a queued (or interrupted) run; a finished or failed one is left as it is. A
    large run is split into parts (`partition`), each a run and a job of its own; the
    run finishes with its last part."""
    with _collector_paused():
        return _execute(run_id, progress)


# Runs are locked FOR NO KEY UPDATE: it keeps two jobs of one run apart as FOR UPDATE
# does, but does not wait for key shares (the lock foreign-key checks take). Under FOR
# UPDATE four parts ending at once deadlocked on their run's row, each waiting for the
# others' transactions (PostgreSQL's log, 4 workers on 2 cores).
LOCK_RUN = {"key_share": True}


def _execute(run_id: int, progress: Progress | None) -> MatchingRun | None:
    run = db.session.get(MatchingRun, run_id, with_for_update=LOCK_RUN)
    if run is None or run.status in (RunStatus.FINISHED, RunStatus.FAILED):
        return run
    if run.status == RunStatus.RUNNING and _parts(run.id):
        return run  # split already: its parts are on their way
    if run.status == RunStatus.QUEUED:
        run.status, run.started_at = RunStatus.RUNNING, utcnow()
        # The one commit of an operation here, on purpose (the job commits the rest): other
        # workers must see the run as running before the long load and solve, so events
        # queue a new run instead of joining one that has already read its window; and
        # the locks taken so far (this row, the event's, SQLite's whole database) must not
        # be held while it solves.
        db.session.commit()
    window_from, window_to = run.window_from, run.window_to
    assert window_from is not None and window_to is not None  # request_run sets them
    parent = db.session.get(MatchingRun, run.parent_id) if run.parent_id else None
    if parent is None:
        parts = partition(window_from, window_to, run.ward, run.units)
        if len(parts) > 1:
            for part in parts:
                _request_part(run, part)
            return run
    loaded = loader.load(
        window_from,
        window_to,
        run.ward,
        units=run.units,
        pool=run.pool,
        part_of=(parent.window_from, parent.window_to)  # type: ignore[arg-type]
        if parent is not None
        else None,
        shared_by=parent.id if parent is not None else None,
    )
    try:
        plan = solver.solve(loaded.problem, progress=progress)
    except Exception as exc:  # an engine defect: record it rather than retry forever
        log.exception("matching run %s failed", run_id)
        run.status, run.error, run.finished_at = RunStatus.FAILED, str(exc)[:500], utcnow()
        _finish_parent(run)
        return run
    stale, skipped = write_plan(plan, loaded, run.id)
    run.status, run.finished_at = RunStatus.FINISHED, utcnow()
    run.filled = len(plan.proposals)
    run.unfilled = sum(u.seats for u in plan.unfilled)
    run.objective = float(plan.objective)
    run.proposals = _rows(plan.proposals, ProposalSchema())
    run.unfilled_detail = _rows(plan.unfilled, UnfilledSchema())
    run.stats = {**plan.stats, "stale_sessions": sorted(stale), "skipped": len(skipped)}
    if stale or skipped:
        schedule_auto_run(window_from if window_from > utcnow() else utcnow())
    _finish_parent(run)
    return run


@dataclass(frozen=True)
class Part:
    """A piece of a run that can be planned on its own: the sessions in `wards` starting
    in [start, end), planned with the volunteers living in `pool`."""

    wards: list[str]
    pool: list[str]
    start: datetime
    end: datetime


def partition(
    window_from: datetime,
    window_to: datetime,
    ward: str | None = None,
    units: Sequence[str] | None = None,
) -> list[Part]:
    """Independent parts of a run of at least MATCHING_PARTITION_MIN_SESSIONS sessions
    (else one part: the run itself).

    Places: the connected components of the neighbour graph within a province. Each
    volunteer is planned by the part of their home ward only, so two parts running at
    once never book one person; the price is that a run split this way proposes nobody
    across a province border or between two components. Components are packed together
    up to MATCHING_PART_SESSIONS sessions.
    Weeks: weekly limits count per local week (Monday 00:00), so a pack splits by week
    when no session comes within the travel gap of a week's boundary (two sessions
    across it could clash), into at most MATCHING_WEEK_PARTS parts of consecutive weeks
    with about as many sessions each: a part's cost is mostly what it reads and builds
    whatever its weeks (the city's first two weeks: 1.3 s of CPU together, 2.1 apart),
    so parts beyond the workers that run them side by side only add that cost. The
    matcher's spreading of one person's sessions then works within a part's weeks."""
    config = current_app.config
    start = max(window_from, utcnow())
    query = sa.select(
        TrainingSession.ward, TrainingSession.starts_at, TrainingSession.ends_at
    ).where(
        TrainingSession.status == SessionStatus.PUBLISHED,
        TrainingSession.starts_at >= start,
        TrainingSession.starts_at < window_to,
    )
    if ward:
        query = query.where(TrainingSession.ward == ward)
    if units is not None:
        query = query.where(TrainingSession.ward.in_(sorted(units)))
    sessions = db.session.execute(query).all()
    whole = [Part([], [], window_from, window_to)]
    if ward or len(sessions) < config["MATCHING_PARTITION_MIN_SESSIONS"]:
        return whole
    component = _components()
    by_component: dict[str, list[Any]] = defaultdict(list)
    for row in sessions:
        by_component[component.get(row.ward, row.ward)].append(row)
    members: dict[str, set[str]] = defaultdict(set)
    for code, root in component.items():
        members[root].add(code)
    packs: list[tuple[set[str], list[Any]]] = []
    for root in sorted(by_component):
        if not packs or len(packs[-1][1]) >= config["MATCHING_PART_SESSIONS"]:
            packs.append((set(), []))
        packs[-1][0].update(members.get(root, {root}))
        packs[-1][1].extend(by_component[root])
    parts = []
    gap = timedelta(minutes=config["TRAVEL_GAP_MINUTES"])
    for pool, rows in packs:
        wards = sorted({r.ward for r in rows})
        weeks = _weeks(rows, gap)
        if weeks is None or len(weeks) < 2:
            parts.append(Part(wards, sorted(pool), window_from, window_to))
            continue
        for first, last in _week_groups(weeks, config["MATCHING_WEEK_PARTS"]):
            parts.append(
                Part(
                    wards,
                    sorted(pool),
                    max(first, window_from),
                    min(last + timedelta(days=7), window_to),
                )
            )
    return parts if len(parts) > 1 else whole


def _components() -> dict[str, str]:
    """Each ward's component: wards joined by neighbour links within their province,
    named by their smallest code (prefixed by the province)."""
    province = dict(db.session.execute(sa.select(Ward.code, Ward.province_code)).tuples().all())
    parent = {code: code for code in province}

    def find(code: str) -> str:
        while parent[code] != code:
            parent[code] = parent[parent[code]]
            code = parent[code]
        return code

    for a, b in db.session.execute(
        sa.select(ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code)
    ):
        if a in parent and b in parent and province[a] == province[b]:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {code: f"{province[code] or ''}/{find(code)}" for code in parent}


def _weeks(rows: Sequence[Any], gap: timedelta) -> dict[datetime, int] | None:
    """The local Mondays of the weeks these sessions fall in (in order) with how many
    sessions each, or None when one comes within `gap` of a week's boundary (or
    crosses it)."""
    zone = display_timezone()
    mondays: Counter[datetime] = Counter()
    for row in rows:
        local = row.starts_at.astimezone(zone)
        monday = (local - timedelta(days=local.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        if row.starts_at - gap < monday or row.ends_at + gap > monday + timedelta(days=7):
            return None
        mondays[monday] += 1
    return {monday: mondays[monday] for monday in sorted(mondays)}


def _week_groups(weeks: dict[datetime, int], at_most: int) -> list[tuple[datetime, datetime]]:
    """The weeks cut into at most `at_most` runs of consecutive weeks (0: one a week)
    whose busiest has as few sessions as can be: the smallest size that lets the weeks,
    taken in order as many as fit, make no more runs than that. Each as its first and
    last Monday."""
    mondays, sizes = list(weeks), list(weeks.values())
    if at_most <= 0 or at_most >= len(mondays):
        return [(monday, monday) for monday in mondays]

    def runs(limit: int) -> list[tuple[int, int]]:
        found, first, total = [], 0, 0
        for at, size in enumerate(sizes):
            if total + size > limit and at > first:
                found.append((first, at))
                first, total = at, 0
            total += size
        return [*found, (first, len(sizes))]

    sizes_to_try = range(max(sizes), sum(sizes) + 1)
    limit = sizes_to_try[
        bisect.bisect_left(sizes_to_try, True, key=lambda n: len(runs(n)) <= at_most)
    ]
    return [(mondays[a], mondays[b - 1]) for a, b in runs(limit)]


def _request_part(run: MatchingRun, part: Part) -> MatchingRun:
    child = request_run(
        units=part.wards,
        window_from=part.start,
        window_to=part.end,
        requested_by=run.requested_by,
        kind="part",
    )
    child.parent_id, child.pool = run.id, part.pool
    return child


def _parts(run_id: int) -> list[MatchingRun]:
    return list(
        db.session.scalars(
            sa.select(MatchingRun).where(MatchingRun.parent_id == run_id).order_by(MatchingRun.id)
        )
    )


def _finish_parent(part: MatchingRun) -> None:
    """The last part to end finishes its run with the parts' sums (or fails it, naming
    the parts that failed). The run's row is locked first, so two parts ending at once
    are counted one after the other."""
    if part.parent_id is None:
        return
    run = db.session.get(MatchingRun, part.parent_id, with_for_update=LOCK_RUN)
    if run is None or run.status != RunStatus.RUNNING:
        return
    db.session.flush()
    # Statuses first: the parts' rows carry their proposals (thousands each, as JSON),
    # which only the last part to end needs.
    statuses = db.session.scalars(
        sa.select(MatchingRun.status).where(MatchingRun.parent_id == run.id)
    ).all()
    if any(status in (RunStatus.QUEUED, RunStatus.RUNNING) for status in statuses):
        return
    parts = _parts(run.id)
    failed = [p.id for p in parts if p.status == RunStatus.FAILED]
    run.finished_at = utcnow()
    run.filled = sum(p.filled for p in parts)
    run.unfilled = sum(p.unfilled for p in parts)
    run.objective = float(sum(p.objective or 0 for p in parts))
    run.proposals = [row for p in parts for row in p.proposals]
    run.unfilled_detail = [row for p in parts for row in p.unfilled_detail]
    run.stats = {
        "parts": [p.id for p in parts],
        "stale_sessions": sorted({s for p in parts for s in p.stats.get("stale_sessions", [])}),
        "skipped": sum(p.stats.get("skipped", 0) for p in parts),
        "seconds": max((p.stats.get("seconds", 0) for p in parts), default=0),
    }
    if failed:
        run.status, run.error = RunStatus.FAILED, f"parts failed: {failed}"[:500]
    else:
        run.status = RunStatus.FINISHED


def _role_names(role_ids: Iterable[int]) -> dict[int, str]:
    wanted = set(role_ids)
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(SessionRole.id, SessionRole.role).where(among(SessionRole.id, sorted(wanted)))
    )
    return {role_id: name for role_id, name in rows}


def _rows(
    records: Sequence[Proposal | Unfilled], schema: ProposalSchema | UnfilledSchema
) -> list[dict[str, Any]]:
    """A plan's proposals or empty seats as a run keeps and shows them: the engine's
    records in the shape of their schema (the one definition of a row, also the API's),
    with their role's name."""
    names = _role_names(record.role_id for record in records)
    rows: list[dict[str, Any]] = schema.dump(records, many=True)
    for row, record in zip(rows, records, strict=True):
        row["role"] = names.get(record.role_id)
    return rows


def write_plan(plan: Plan, loaded: loader.Loaded, run_id: int | None) -> tuple[set[int], set[int]]:
    """Make the matcher's proposals in the loaded sessions equal to the plan's, except
    where a session or a volunteer changed since the read. Returns the sessions and the
    volunteers left alone for that reason.

    A fixed number of statements whatever the size on PostgreSQL (ids as arrays, new
    proposals and events each one INSERT from arrays), plus one per proposal withdrawn."""
    session_ids = sorted(loaded.versions)
    if not session_ids:
        return set(), set()
    # The sessions locked against edits (FOR NO KEY UPDATE: a sign-up's booking only
    # checks that its session exists, FOR KEY SHARE, which FOR UPDATE would block while
    # the sign-up held the role this write then waited for: a deadlock).
    current: dict[int, int] = {
        session_id: version
        for chunk in chunked(session_ids)  # in id order across chunks: no deadlock
        for session_id, version in db.session.execute(
            sa.select(TrainingSession.id, TrainingSession.version)
            .where(among(TrainingSession.id, chunk))
            .order_by(TrainingSession.id)
            .with_for_update(key_share=True)
        )
    }
    stale = {s for s, version in loaded.versions.items() if current.get(s) != version}
    moved = _moved_since(loaded)
    existing = {
        (row.volunteer_id, row.role_id): row
        for chunk in chunked(session_ids)
        for row in db.session.execute(
            sa.select(
                Assignment.id, Assignment.session_id, Assignment.volunteer_id, Assignment.role_id
            ).where(
                among(Assignment.session_id, chunk),
                Assignment.source == "matcher",
                Assignment.status == AssignmentStatus.PROPOSED,
            )
        )
    }
    wanted = {
        (p.volunteer_id, p.role_id): p
        for p in plan.proposals
        if p.session_id not in stale and p.volunteer_id not in moved
    }
    changes: dict[int, SessionChanges] = defaultdict(SessionChanges)
    # A kept proposal is left as it is (its reasons too): rewriting it would bump its
    # updated_at, which the next run reads as a volunteer who moved.
    leaving = [
        row
        for key, row in sorted(existing.items())
        if key not in wanted and row.session_id not in stale and row.volunteer_id not in moved
    ]
    new = [p for key, p in sorted(wanted.items()) if key not in existing]
    # Every role whose seats this write changes, locked in id order before any booking
    # is changed (a sign-up, too, locks its role before it writes).
    for chunk in chunked({row.role_id for row in leaving} | {p.role_id for p in new}):
        db.session.execute(
            sa.select(SessionRole.id)
            .where(among(SessionRole.id, chunk))
            .order_by(SessionRole.id)
            .with_for_update()
        ).all()
    for chunk in chunked(row.id for row in leaving):
        for assignment in db.session.scalars(
            sa.select(Assignment)
            .where(among(Assignment.id, chunk))
            .order_by(Assignment.id)
            .options(selectinload(Assignment.role))
        ):
            retract(assignment)
            changes[assignment.session_id].retracted.append(_item(assignment))
    role_names = {role.id: role.name for role in loaded.problem.roles}
    granted = _take_seats(Counter(p.role_id for p in new))
    made_at = clock.now()
    rows = []
    for proposal in new:
        if not granted[proposal.role_id]:
            stale.add(proposal.session_id)  # a sign-up took the seat meanwhile
            continue
        granted[proposal.role_id] -= 1
        rows.append(
            {
                "session_id": proposal.session_id,
                "role_id": proposal.role_id,
                "volunteer_id": proposal.volunteer_id,
                "answer_by": deadline_for(loaded.starts_at[proposal.session_id], made_at),
                # Codes, worded where they are read, in the reader's language.
                "reasons": list(proposal.reasons),
                "session_version": current[proposal.session_id],
            }
        )
    for row in _insert_proposals(rows, run_id):
        changes[row.session_id].proposed.append(
            {
                "assignment_id": row.id,
                "volunteer_id": row.volunteer_id,
                "role": role_names[row.role_id],
                "status": AssignmentStatus.PROPOSED.value,
            }
        )
    outbox.record_many(
        "assignment.matched",
        "session",
        [
            (
                session_id,
                {
                    "session_id": session_id,
                    "ward": loaded.wards[session_id],
                    "run_id": run_id,
                    "proposed": change.proposed,
                    "retracted": change.retracted,
                },
            )
            for session_id, change in sorted(changes.items())
        ],
    )
    return stale, moved & {p.volunteer_id for p in plan.proposals}


def _insert_proposals(rows: list[dict[str, Any]], run_id: int | None) -> list[Any]:
    """The new proposals, inserted in one statement on PostgreSQL (`INSERT ... SELECT
    FROM unnest(arrays)`: seven parameters however many rows, where a VALUES list
    binds eleven a row) and in batches elsewhere; their ids, sessions, volunteers and
    roles, in `rows`' order."""
    if not rows:
        return []
    returning = (
        Assignment.id,
        Assignment.session_id,
        Assignment.volunteer_id,
        Assignment.role_id,
    )
    if loader.arrays():
        # One JSON document of the rows, read back by jsonb_to_recordset: one parameter
        # (text arrays would be quoted string by string in Python by the driver).
        given = (
            sa.func.jsonb_to_recordset(
                sa.bindparam(
                    "given",
                    [{**row, "answer_by": row["answer_by"].isoformat()} for row in rows],
                    type_=JSONB,
                )
            )
            .table_valued(
                sa.column("session_id", sa.Integer),
                sa.column("role_id", sa.Integer),
                sa.column("volunteer_id", sa.Integer),
                sa.column("answer_by", sa.DateTime(timezone=True)),
                sa.column("reasons", JSONB),
                sa.column("session_version", sa.Integer),
                name="given",
            )
            .render_derived(with_types=True)
        )
        source = sa.select(
            given.c.session_id,
            given.c.role_id,
            given.c.volunteer_id,
            given.c.answer_by,
            given.c.reasons,
            given.c.session_version,
            sa.literal("matcher"),
            sa.literal(AssignmentStatus.PROPOSED.value),
            sa.literal(run_id, sa.Integer),
        )
        inserted = db.session.execute(
            sa.insert(Assignment)
            .from_select(
                [
                    "session_id",
                    "role_id",
                    "volunteer_id",
                    "answer_by",
                    "reasons",
                    "session_version",
                    "source",
                    "status",
                    "matching_run_id",
                ],
                source,
            )
            .returning(*returning)
        ).all()
        order = {(row["volunteer_id"], row["role_id"]): at for at, row in enumerate(rows)}
        return sorted(inserted, key=lambda row: order[row.volunteer_id, row.role_id])
    found: list[Any] = []
    for at in range(0, len(rows), loader.CHUNK):
        found += db.session.execute(
            sa.insert(Assignment).returning(*returning, sort_by_parameter_order=True),
            [
                {
                    **row,
                    "source": "matcher",
                    "status": AssignmentStatus.PROPOSED.value,
                    "matching_run_id": run_id,
                }
                for row in rows[at : at + loader.CHUNK]
            ],
        ).all()
    return found


def _take_seats(wanted: Counter[int]) -> Counter[int]:
    """Take `wanted[role]` seats of each role where they are still free, by conditional
    updates (DESIGN.md invariant 6): all of a role's at once, in one statement on
    PostgreSQL; seat by seat for a role whose seats a sign-up took meanwhile (and on
    other databases). Returns the seats taken per role."""
    granted: Counter[int] = Counter()
    if not wanted:
        return granted
    short = set(wanted)
    if loader.arrays():
        ids = sorted(wanted)
        asked = (
            sa.func.unnest(
                sa.bindparam("ids", ids, type_=ARRAY(sa.Integer)),
                sa.bindparam("counts", [wanted[i] for i in ids], type_=ARRAY(sa.Integer)),
            )
            .table_valued("id", "n", name="asked")
            .render_derived()
        )
        taken = db.session.scalars(
            sa.update(SessionRole)
            .where(
                SessionRole.id == asked.c.id,
                SessionRole.taken + asked.c.n <= SessionRole.count,
            )
            .values(taken=SessionRole.taken + asked.c.n)
            .returning(SessionRole.id)
            .execution_options(synchronize_session=False)
        ).all()
        for role_id in taken:
            granted[role_id] = wanted[role_id]
            short.discard(role_id)
    for role_id in sorted(short):
        role = db.session.get(SessionRole, role_id)
        if role is None:
            continue
        for _ in range(wanted[role_id]):
            if not counters.take_one(role, "taken", "count"):
                break
            granted[role_id] += 1
    for role_id in wanted:  # a role read before holds a stale count
        held = db.session.identity_map.get(identity_key(SessionRole, role_id))
        if held is not None:
            db.session.expire(held, ["taken"])
    return granted


@dataclass
class SessionChanges:
    """What one run changed in one session: the proposals it made and withdrew."""

    proposed: list[dict[str, Any]] = field(default_factory=list)
    retracted: list[dict[str, Any]] = field(default_factory=list)


def retract(assignment: Assignment) -> None:
    """Withdraw a proposal the new plan no longer makes; its seat frees up (the caller
    records the session's `assignment.matched` event)."""
    require_transition(assignment, AssignmentStatus.CANCELLED)
    assignment.status, assignment.answer_by = AssignmentStatus.CANCELLED, None
    assignment.decided_at = utcnow()
    db.session.flush()
    counters.give_back(assignment.role, "taken")


def _item(assignment: Assignment) -> dict[str, Any]:
    return {
        "assignment_id": assignment.id,
        "volunteer_id": assignment.volunteer_id,
        "role": assignment.role.role,
        "status": assignment.status,
    }


def _moved_since(loaded: loader.Loaded) -> set[int]:
    """Volunteers whose bookings changed since the read, except by a sibling part (the
    same wards, another week of the run), which plans other weeks of them on purpose."""
    query = sa.select(Assignment.volunteer_id).where(Assignment.updated_at >= loaded.read_at)
    part, run_window, window = loaded.part_wards, loaded.run_window, loaded.window
    if part is not None and run_window is not None and window is not None:
        # Changes in a sibling's sessions touch other weeks: no clash, no weekly limit.
        sibling = sa.and_(
            TrainingSession.ward.in_(sorted(part)),
            TrainingSession.starts_at >= run_window[0],
            TrainingSession.starts_at < run_window[1],
            sa.or_(TrainingSession.starts_at < window[0], TrainingSession.starts_at >= window[1]),
        )
        query = query.join(TrainingSession, TrainingSession.id == Assignment.session_id).where(
            sa.not_(sibling)
        )
    return set(db.session.scalars(query))


class SessionFit(TypedDict):
    session: TrainingSession
    roles: list[SessionRole]  # the roles the volunteer may take, in the session's order
    distance: int  # ward steps from the volunteer's home (0, 1 or 2)


def sessions_that_fit(volunteer_id: int, now: datetime | None = None) -> list[SessionFit]:
    """Sessions of the next FIT_HORIZON with a role this volunteer may take, by the
    matcher's rules (engine.fits): skills, free time, near enough, no clash with their
    bookings, their weekly limit. Reads only what this volunteer needs. By start."""
    now = now or utcnow()
    problem = loader.load_for_volunteer(volunteer_id, now, now + FIT_HORIZON, now)
    found = {fit.session_id: fit for fit in fits.sessions_that_fit(problem, volunteer_id)}
    if not found:
        return []
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.id.in_(found))
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )
    return [
        SessionFit(
            session=session,
            roles=[role for role in session.roles if role.id in found[session.id].role_ids],
            distance=found[session.id].distance,
        )
        for session in sessions
    ]


def repair_freed_seat(assignment_id: int) -> str:
    """Booking `assignment_id` left its seat (declined or withdrew): fill the seat from
    the week around the session, moving at most one other proposal. Says what was done
    (flushes)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        return "missing"
    session = db.session.get(TrainingSession, assignment.session_id)
    role = db.session.get(SessionRole, assignment.role_id)
    if session is None or role is None or session.status != SessionStatus.PUBLISHED:
        return "session not open"
    if session.starts_at <= utcnow() or role.taken >= role.count:
        return "nothing to fill"
    margin = timedelta(days=current_app.config["MATCHING_REPAIR_DAYS"])
    loaded = loader.load(session.starts_at - margin, session.starts_at + margin)
    working, _ = solver.working_plan(loaded.problem)
    engine_role = working.rules.role.get(role.id)
    if engine_role is None:
        return "role not loaded"
    result = repair.Repair([repair.Change("leave", assignment.volunteer_id, role.id)])
    repair.restaff(working, engine_role, result)
    stale, skipped = write_plan(solver.as_plan(working), loaded, None)
    if stale or skipped or result.uncovered:  # the re-plan decides what a repair cannot
        schedule_auto_run(session.starts_at)
    return f"{len(result.changes) - 1} changes"  # the first is the leaving itself
