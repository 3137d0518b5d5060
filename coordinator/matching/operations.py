"""Matching runs: asked for, run on a worker, and written back in one transaction.

A run loads its window, solves it with the pure engine, then writes the difference
between the matcher's proposals there and the new plan: retract, keep, add. A session
changed since it was read, or a volunteer whose bookings changed since, is left alone
and a new run is scheduled, so a run never overrides something decided after it began.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from coordinator import clock
from coordinator.bookings import counters
from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.bookings.operations import answer_deadline, require_transition
from coordinator.database import utcnow
from coordinator.errors import Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.matching import loader
from coordinator.matching.engine import fits, repair, solver
from coordinator.matching.engine.problem import Plan, Proposal, Unfilled
from coordinator.matching.engine.solver import Progress
from coordinator.matching.models import MatchingRun, RunStatus
from coordinator.matching.schemas import ProposalSchema, UnfilledSchema
from coordinator.people.scopes import Scope, current_scope
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession

log = logging.getLogger(__name__)
DEFAULT_WINDOW = timedelta(days=31)
MAX_WINDOW = timedelta(days=366)
FIT_HORIZON = timedelta(days=60)  # how far ahead a volunteer's sessions that fit look


RECENT_RUNS = 50


def _visible(run: MatchingRun, scope: Scope) -> bool:
    """A run is the caller's when every unit it plans is within their scope."""
    return scope.covers(run.ward) if run.ward else scope.covers_all(run.units)


def get_run(run_id: int) -> MatchingRun:
    """A run planning units of the caller's scope; others answer like a missing id."""
    run = db.session.get(MatchingRun, run_id)
    if run is None or not _visible(run, current_scope()):
        raise NotFound("Không tìm thấy lượt ghép / Matching run not found.")
    return run


def recent_runs(limit: int = RECENT_RUNS) -> list[MatchingRun]:
    """The caller's most recent runs, newest first. Which units a run plans is a JSON
    list, so runs are read newest first in batches and kept in Python."""
    scope = current_scope()
    query = sa.select(MatchingRun).order_by(MatchingRun.id.desc())
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
        raise Invalid.field("to", "Phải sau 'from' / Must be after 'from'.")
    if window_to - window_from > MAX_WINDOW:
        raise Invalid.field("to", "Tối đa một năm / At most one year.")
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


def execute(run_id: int, progress: Progress | None = None) -> MatchingRun | None:
    """Run a queued (or interrupted) run; a finished or failed one is left as it is."""
    run = db.session.get(MatchingRun, run_id, with_for_update=True)
    if run is None or run.status in (RunStatus.FINISHED, RunStatus.FAILED):
        return run
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
    loaded = loader.load(window_from, window_to, run.ward, units=run.units)
    try:
        plan = solver.solve(loaded.problem, progress=progress)
    except Exception as exc:  # an engine defect: record it rather than retry forever
        log.exception("matching run %s failed", run_id)
        run.status, run.error, run.finished_at = RunStatus.FAILED, str(exc)[:500], utcnow()
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
    return run


def _role_names(role_ids: Iterable[int]) -> dict[int, str]:
    wanted = set(role_ids)
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(SessionRole.id, SessionRole.role).where(SessionRole.id.in_(wanted))
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
    volunteers left alone for that reason."""
    session_ids = sorted(loaded.versions)
    if not session_ids:
        return set(), set()
    current: dict[int, int] = {
        session_id: version
        for session_id, version in db.session.execute(
            sa.select(TrainingSession.id, TrainingSession.version)
            .where(TrainingSession.id.in_(session_ids))
            .order_by(TrainingSession.id)
            .with_for_update()
        )
    }
    stale = {s for s, version in loaded.versions.items() if current.get(s) != version}
    moved = set(
        db.session.scalars(
            sa.select(Assignment.volunteer_id).where(Assignment.updated_at >= loaded.read_at)
        )
    )
    existing = {
        (a.volunteer_id, a.role_id): a
        for a in db.session.scalars(
            sa.select(Assignment).where(
                Assignment.session_id.in_(session_ids),
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
    for key, assignment in sorted(existing.items()):
        if key in wanted:
            assignment.reasons = list(wanted[key].reasons)
        elif assignment.session_id not in stale and assignment.volunteer_id not in moved:
            retract(assignment)
    roles = {
        r.id: r
        for r in db.session.scalars(
            sa.select(SessionRole).where(SessionRole.session_id.in_(session_ids))
        )
    }
    sessions = {
        s.id: s
        for s in db.session.scalars(
            sa.select(TrainingSession).where(TrainingSession.id.in_(session_ids))
        )
    }
    for key, proposal in sorted(wanted.items()):
        if key in existing:
            continue
        role = roles[proposal.role_id]
        if not counters.take_one(role, "taken", "count"):
            stale.add(proposal.session_id)  # a sign-up took the seat meanwhile
            continue
        assignment = Assignment(
            session_id=proposal.session_id,
            role_id=role.id,
            volunteer_id=proposal.volunteer_id,
            source="matcher",
            status=AssignmentStatus.PROPOSED,
            answer_by=answer_deadline(sessions[proposal.session_id], clock.now()),
            matching_run_id=run_id,
            reasons=list(proposal.reasons),
            session_version=current[proposal.session_id],
        )
        db.session.add(assignment)
        db.session.flush()
        _record("assignment.proposed", assignment, role.role)
    return stale, moved & {p.volunteer_id for p in plan.proposals}


def retract(assignment: Assignment) -> None:
    """Withdraw a proposal the new plan no longer makes; its seat frees up."""
    require_transition(assignment, AssignmentStatus.CANCELLED)
    assignment.status, assignment.answer_by = AssignmentStatus.CANCELLED, None
    assignment.decided_at = utcnow()
    db.session.flush()
    counters.give_back(assignment.role, "taken")
    _record("assignment.retracted", assignment, assignment.role.role)


def _record(type_: str, assignment: Assignment, role_name: str) -> None:
    outbox.record(
        type_,
        "session",
        assignment.session_id,
        {
            "session_id": assignment.session_id,
            "assignment_id": assignment.id,
            "volunteer_id": assignment.volunteer_id,
            "role": role_name,
            "status": assignment.status,
        },
    )


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
    repair.fill(working, engine_role, result)
    repair.drop_uncovered(working, working.rules.session[session.id], result)
    stale, skipped = write_plan(solver.as_plan(working), loaded, None)
    if stale or skipped:
        schedule_auto_run(session.starts_at)
    return f"{len(result.changes) - 1} changes"  # the first is the leaving itself
