"""What a matching run writes: one event per session it changed (its handlers fan out
to each proposal), kept proposals left untouched, and nothing at all, nor any job, when
nothing changed. Runs split into parts: by week and by place, each part a job, the run
finished by its last part; and no statement binds more than a chunk of ids."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.registry import ScheduledJobRegistry

from coordinator.bookings.handlers import expiry_job_id
from coordinator.bookings.models import Assignment
from coordinator.events.models import DomainEvent
from coordinator.events.relay import QUEUES
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward, ward_neighbors
from coordinator.matching import loader, operations
from coordinator.matching.models import MatchingRun
from coordinator.notifications.models import Notification
from coordinator.sessions.models import SessionRole
from tests.matching.test_runs import EVENING, proposals, session_at, tuesday_evening, work


def _events(type_: str) -> list[DomainEvent]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(DomainEvent).where(DomainEvent.type == type_).order_by(DomainEvent.id)
        )
    )


def _helpers(make_volunteer, count: int, **overrides) -> list[int]:
    return [make_volunteer(availability=EVENING, **overrides)[0] for _ in range(count)]


def test_a_run_writes_one_event_per_session_and_each_proposal_is_told_and_expires(
    client, organizer_headers, make_session, make_volunteer, redis_client
):
    experts = [make_volunteer(is_expert=True, availability=EVENING)[0] for _ in range(2)]
    _helpers(make_volunteer, 4)
    first = session_at(make_session, tuesday_evening(1))
    second = session_at(make_session, tuesday_evening(2))
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)

    made = proposals()
    assert len(made) == 6 and {v for _, _, v in made} >= set(experts)
    assert _events("assignment.proposed") == []
    matched = _events("assignment.matched")
    assert sorted(e.aggregate_id for e in matched) == sorted([first["id"], second["id"]])
    ids = set()
    for event in matched:
        assert event.payload["ward"] == "kim_lien" and event.payload["retracted"] == []
        ids |= {item["assignment_id"] for item in event.payload["proposed"]}
        assert all({"volunteer_id", "role"} <= set(item) for item in event.payload["proposed"])
    live = db.session.scalars(sa.select(Assignment.id).where(Assignment.status == "proposed"))
    assert ids == set(live)
    # Fanned out by the handlers: each proposal its notice and its expiry job.
    notices = db.session.scalars(
        sa.select(Notification.assignment_id).where(Notification.kind == "proposal")
    ).all()
    assert sorted(notices) == sorted(ids)
    scheduled = set(ScheduledJobRegistry("default", connection=redis_client).get_job_ids())
    assert {expiry_job_id(i) for i in ids} <= scheduled


def test_running_again_with_nothing_changed_writes_nothing_and_enqueues_nothing(
    client, organizer_headers, make_session, make_volunteer, redis_client
):
    make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 2)
    session_at(make_session, tuesday_evening(1))
    session_at(make_session, tuesday_evening(2))  # more seats than people: a run each time
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    db.session.rollback()
    kept = db.session.scalars(sa.select(Assignment).where(Assignment.status == "proposed")).all()
    assert kept
    # Reasons written by the first run stay as they are: the second does not rewrite them.
    db.session.execute(sa.update(Assignment).values(reasons=["first run"]))
    db.session.commit()
    before = {a.id: a.updated_at for a in db.session.scalars(sa.select(Assignment))}
    last_event = db.session.scalar(sa.select(sa.func.max(DomainEvent.id)))
    runs = db.session.scalar(sa.select(sa.func.count(MatchingRun.id)))
    queued = {n: Queue(n, connection=redis_client).count for n in QUEUES}
    scheduled = {n: ScheduledJobRegistry(n, connection=redis_client).count for n in QUEUES}

    again = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers).json["id"]
    work(redis_client)

    db.session.rollback()
    assert db.session.get(MatchingRun, again).status == "finished"
    after = {a.id: a.updated_at for a in db.session.scalars(sa.select(Assignment))}
    assert after == before
    assert all(r == ["first run"] for r in db.session.scalars(sa.select(Assignment.reasons)))
    new_events = db.session.scalars(
        sa.select(DomainEvent.type).where(DomainEvent.id > last_event)
    ).all()
    assert new_events == ["matching.run_requested"]  # the request itself, nothing else
    assert db.session.scalar(sa.select(sa.func.count(MatchingRun.id))) == runs + 1
    assert {n: Queue(n, connection=redis_client).count for n in QUEUES} == queued
    assert {n: ScheduledJobRegistry(n, connection=redis_client).count for n in QUEUES} == scheduled


def test_an_automatic_run_does_not_queue_another(app, make_session, make_volunteer, redis_client):
    make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 3)
    for week in (1, 2):
        session_at(make_session, tuesday_evening(week))

    work(redis_client)

    db.session.rollback()
    runs = db.session.scalars(sa.select(MatchingRun)).all()
    assert runs and all(r.status == "finished" for r in runs)
    assert all(r.stats["skipped"] == 0 and r.stats["stale_sessions"] == [] for r in runs)
    assert len(runs) == len({r.coalesce_key for r in runs})  # one per month, none again


def test_a_large_run_splits_by_week_and_finishes_with_its_last_part(
    app, client, organizer_headers, make_session, make_volunteer, redis_client
):
    app.config.update(
        MATCHING_PARTITION_MIN_SESSIONS=2, MATCHING_PART_SESSIONS=1, MATCHING_WEEK_PARTS=0
    )
    make_volunteer(is_expert=True, availability=EVENING, max_sessions_per_week=1)
    _helpers(make_volunteer, 2, max_sessions_per_week=1)
    starts = tuesday_evening(1)
    sessions = [session_at(make_session, starts + timedelta(days=7 * w)) for w in range(3)]
    window = {
        "from": (starts - timedelta(days=1)).isoformat(),
        "to": (starts + timedelta(days=20)).isoformat(),
    }
    run_id = client.post("/api/v1/matching/runs", json=window, headers=organizer_headers).json["id"]
    work(redis_client)

    db.session.rollback()
    run = db.session.get(MatchingRun, run_id)
    parts = db.session.scalars(
        sa.select(MatchingRun).where(MatchingRun.parent_id == run_id).order_by(MatchingRun.id)
    ).all()
    assert len(parts) == 3 and {p.kind for p in parts} == {"part"}
    assert all(p.status == "finished" and p.filled == 3 for p in parts)
    assert (run.status, run.filled, run.stats["parts"]) == ("finished", 9, [p.id for p in parts])
    # The same three people every week, each once a week: parts plan weeks on their own.
    made = proposals()
    assert {s for s, _, _ in made} == {s["id"] for s in sessions}
    assert len(made) == 9
    part_ids = {p.id for p in parts}
    # Running the split run again changes nothing: a part does not see its siblings'
    # proposals, so what it plans does not depend on which ran first.
    matched = len(_events("assignment.matched"))
    client.post("/api/v1/matching/runs", json=window, headers=organizer_headers)
    work(redis_client)
    assert proposals() == made and len(_events("assignment.matched")) == matched
    listed = {r["id"] for r in client.get("/api/v1/matching/runs", headers=organizer_headers).json}
    assert run_id in listed and not listed & part_ids  # parts show in their run


def _second_province() -> None:
    """Two wards of another province, neighbours of each other and of kim_lien."""
    db.session.add(Province(code="79", slug="ho_chi_minh", name="TP Hồ Chí Minh", type="thanh_pho"))
    db.session.add_all(
        [Ward(code=c, name=c, province_code="79", type="phuong") for c in ("ben_nghe", "da_kao")]
    )
    db.session.flush()
    db.session.execute(
        ward_neighbors.insert(),
        [
            {"ward_code": "ben_nghe", "neighbor_code": "da_kao"},
            {"ward_code": "kim_lien", "neighbor_code": "ben_nghe"},
        ],
    )
    db.session.commit()


def test_parts_are_components_within_a_province_and_weeks_split_only_clear_of_midnight(
    app, make_session, wards
):
    app.config.update(MATCHING_PARTITION_MIN_SESSIONS=2, MATCHING_PART_SESSIONS=1)
    _second_province()
    starts = tuesday_evening(1)
    session_at(make_session, starts, ward="kim_lien")
    session_at(make_session, starts, ward="ben_nghe")
    db.session.commit()
    window = (starts - timedelta(days=1), starts + timedelta(days=5))

    parts = operations.partition(*window)

    assert [(p.wards, "kim_lien" in p.pool, "da_kao" in p.pool) for p in parts] == [
        (["kim_lien"], True, False),
        (["ben_nghe"], False, True),
    ] or [(p.wards, "kim_lien" in p.pool, "da_kao" in p.pool) for p in parts] == [
        (["ben_nghe"], False, True),
        (["kim_lien"], True, False),
    ]
    # Two weeks in one place split, unless a session runs up to a week's boundary.
    later = starts + timedelta(days=7)
    session_at(make_session, later, ward="kim_lien")
    db.session.commit()
    by_week = operations.partition(starts - timedelta(days=1), later + timedelta(days=1))
    assert len([p for p in by_week if p.wards == ["kim_lien"]]) == 2
    sunday_night = later + timedelta(days=5, hours=5)  # Sunday 23:30 local
    session_at(make_session, sunday_night, ward="kim_lien")
    db.session.commit()
    whole = operations.partition(starts - timedelta(days=1), later + timedelta(days=6))
    assert len([p for p in whole if p.wards == ["kim_lien"]]) == 1


def test_weeks_make_at_most_matching_week_parts_parts_of_about_as_many_sessions(
    app, client, organizer_headers, make_session, make_volunteer, redis_client
):
    app.config.update(MATCHING_PARTITION_MIN_SESSIONS=2, MATCHING_PART_SESSIONS=1)
    starts = tuesday_evening(1)
    weekly = [2, 1, 1, 1]  # sessions in each of four weeks, all in kim_lien
    sessions = [
        session_at(make_session, starts + timedelta(days=7 * week, minutes=15 * n))
        for week, count in enumerate(weekly)
        for n in range(count)
    ]
    db.session.commit()
    window = (starts - timedelta(days=1), starts + timedelta(days=7 * 3 + 1))

    def sessions_per_part(at_most: int) -> list[int]:
        app.config["MATCHING_WEEK_PARTS"] = at_most
        parts = operations.partition(*window)
        return [
            sum(p.start <= datetime.fromisoformat(s["starts_at"]) < p.end for s in sessions)
            for p in parts
        ]

    assert sessions_per_part(0) == [2, 1, 1, 1]  # a part a week
    assert sessions_per_part(2) == [3, 2]  # consecutive weeks, the busiest as small as can be
    assert sessions_per_part(3) == [2, 2, 1]
    assert sessions_per_part(1) == [5]  # the run in one piece

    # Grouped or not, the run fills as many seats, in every session (who takes which,
    # and which of two clashing sessions keeps the empty seat, may differ: a part of
    # several weeks spreads one person's sessions over them).
    people = [make_volunteer(is_expert=True, availability=EVENING)[0]]
    people += _helpers(make_volunteer, 4)
    made = {}
    for at_most in (0, 2):
        app.config["MATCHING_WEEK_PARTS"] = at_most
        db.session.execute(sa.delete(Assignment))
        db.session.execute(sa.update(SessionRole).values(taken=0))
        db.session.commit()
        body = {"from": window[0].isoformat(), "to": window[1].isoformat()}
        client.post("/api/v1/matching/runs", json=body, headers=organizer_headers)
        work(redis_client)
        made[at_most] = sorted((session, role) for session, role, _ in proposals())
    assert len(made[0]) == len(made[2]) == 3 * len(sessions) - 1  # one short in week 1
    assert {session for session, _ in made[2]} == {s["id"] for s in sessions}


def test_a_part_plans_only_volunteers_living_in_it(app, make_session, make_volunteer, wards):
    _second_province()
    near = make_volunteer(availability=EVENING, home_ward="kim_lien")[0]
    across = make_volunteer(availability=EVENING, home_ward="ben_nghe")[0]
    far = make_volunteer(availability=EVENING, home_ward="da_kao")[0]
    starts = tuesday_evening(1)
    session_at(make_session, starts, ward="kim_lien")
    db.session.commit()
    window = (starts - timedelta(days=1), starts + timedelta(days=5))

    whole = loader.load(*window)
    part = loader.load(*window, units=["kim_lien"], pool=["kim_lien"], part_of=window)

    planned = {v.id for v in whole.problem.volunteers if v.windows}
    assert near in planned and across in planned  # one border away: reachable
    assert far in planned  # two wards away: still reachable
    assert {v.id for v in part.problem.volunteers if v.windows} == {near}


def test_no_statement_binds_more_than_a_chunk_of_ids(
    app, client, organizer_headers, make_session, make_volunteer, monkeypatch
):
    make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 4)
    starts = tuesday_evening(1)
    for day in range(9):
        session_at(make_session, starts + timedelta(days=7 * (day % 3), minutes=day))
    db.session.commit()
    window = (starts - timedelta(days=1), starts + timedelta(days=20))
    expected = operations.solver.solve(loader.load(*window).problem).proposals

    monkeypatch.setattr(loader, "CHUNK", 2)
    bound: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            bound.append(len(parameters or ()))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        loaded = loader.load(*window)
        plan = operations.solver.solve(loaded.problem)
        operations.write_plan(plan, loaded, None)
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)

    assert set(plan.proposals) == set(expected)
    assert len(proposals()) == len(expected) > 0
    # A chunk of two ids plus a statement's own few values; without chunks the nine
    # sessions' ids and the statuses would be in one statement.
    assert bound and max(bound) <= 2 + 8, max(bound)


def _statements_of_a_run(window) -> tuple[list[int], int]:
    """Load, solve and write `window`: the parameters bound by each statement of the
    load and the writing, and the proposals made."""
    bound: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        bound.append(len(parameters or ()) if not executemany else 10**6)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        loaded = loader.load(*window)
        sa.event.remove(db.engine, "before_cursor_execute", count)
        plan = operations.solver.solve(loaded.problem)
        sa.event.listen(db.engine, "before_cursor_execute", count)
        operations.write_plan(plan, loaded, None)
        db.session.flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    return bound, len(plan.proposals)


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="arrays and JSON documents as parameters: PostgreSQL only",
)
def test_a_runs_statements_are_as_many_and_as_small_whatever_its_size(
    app, make_session, make_volunteer
):
    """On PostgreSQL ids travel as one array, new proposals and events as one JSON
    document: the same statements for one session as for many, none binding more than
    a few parameters (SQLite binds IN lists in chunks, test_no_statement_binds_...)."""
    app.config["MATCHING_PRIORITY_WEIGHT"] = 0  # the progress report's reads are its own
    make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 2)
    session_at(make_session, tuesday_evening(1))
    db.session.commit()
    small, made = _statements_of_a_run(
        (tuesday_evening(1) - timedelta(days=1), tuesday_evening(1) + timedelta(days=1))
    )
    assert made == 3

    for _ in range(4):
        make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 12)
    for day in range(6):
        session_at(make_session, tuesday_evening(3) + timedelta(days=7 * (day % 2), minutes=day))
    db.session.commit()
    large, made = _statements_of_a_run(
        (tuesday_evening(3) - timedelta(days=1), tuesday_evening(4) + timedelta(days=1))
    )

    assert made == 18
    assert len(large) == len(small), (small, large)
    assert max(large) <= 8, large


def test_seats_taken_meanwhile_are_not_overbooked(app, make_session, make_volunteer):
    make_volunteer(is_expert=True, availability=EVENING)
    _helpers(make_volunteer, 3)
    first = session_at(make_session, tuesday_evening(1))
    second = session_at(make_session, tuesday_evening(2))
    db.session.commit()
    window = (tuesday_evening(1) - timedelta(days=1), tuesday_evening(2) + timedelta(days=1))
    loaded = loader.load(*window)
    plan = operations.solver.solve(loaded.problem)
    assert {p.session_id for p in plan.proposals} == {first["id"], second["id"]}
    # Meanwhile sign-ups fill one helper seat of the first session.
    db.session.execute(
        sa.update(SessionRole)
        .where(SessionRole.session_id == first["id"], SessionRole.role == "helper")
        .values(taken=SessionRole.count - 1)
    )

    stale, _ = operations.write_plan(plan, loaded, None)
    db.session.commit()

    assert stale == {first["id"]}
    for role in db.session.scalars(sa.select(SessionRole)):
        live = db.session.scalar(
            sa.select(sa.func.count(Assignment.id)).where(
                Assignment.role_id == role.id, Assignment.status == "proposed"
            )
        )
        assert role.taken <= role.count and live <= role.count, role.role
    made = proposals()
    assert sum(1 for s, _, _ in made if s == second["id"]) == 3  # the other is untouched


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks: PostgreSQL's",
)
def test_a_run_writing_lets_a_sign_up_book_into_its_sessions(app, make_session, make_volunteer):
    """A sign-up locks its role, then inserts its booking, whose foreign key takes a key
    share of the session. The run's write holds its sessions against edits, then waits
    for the roles it changes: were the sessions held FOR UPDATE, the sign-up's insert
    would wait for the run, which waits for the sign-up (a deadlock seen under load)."""
    _helpers(make_volunteer, 3)
    session = session_at(make_session, tuesday_evening(1))
    window = (tuesday_evening(1) - timedelta(days=1), tuesday_evening(1) + timedelta(days=1))
    plan = operations.solver.solve(loader.load(*window).problem)
    operations.write_plan(plan, loader.load(*window), None)
    db.session.commit()
    fewer = replace(plan, proposals=plan.proposals[1:])  # withdraws one: its role changes

    operations.write_plan(fewer, loader.load(*window), None)  # not committed: locks held
    with db.engine.connect() as sign_up:
        key_share = sa.text("SELECT id FROM training_sessions WHERE id = :id FOR KEY SHARE NOWAIT")
        assert sign_up.execute(key_share, {"id": session["id"]}).scalar() == session["id"]
        edit = sa.text("SELECT id FROM training_sessions WHERE id = :id FOR NO KEY UPDATE NOWAIT")
        with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            sign_up.execute(edit, {"id": session["id"]})  # an edit still waits for the run
        sign_up.rollback()
        role = sa.text("SELECT id FROM session_roles WHERE id = :id FOR UPDATE NOWAIT")
        with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            sign_up.execute(role, {"id": plan.proposals[0].role_id})  # held before any booking
    db.session.commit()


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks: PostgreSQL's",
)
def test_a_key_share_of_a_run_does_not_hold_up_its_parts(app, make_session, make_volunteer):
    """Parts lock their run to count themselves in as they end. Under FOR UPDATE four
    parts ending at once on four workers deadlocked there, each waiting for the others'
    transactions, and the losers were retried 5 s later. FOR UPDATE waits for a key share
    of the row (the lock foreign-key checks take); FOR NO KEY UPDATE does not, and still
    puts the parts one after the other."""
    app.config.update(
        MATCHING_PARTITION_MIN_SESSIONS=2, MATCHING_PART_SESSIONS=1, MATCHING_WEEK_PARTS=0
    )
    make_volunteer(is_expert=True, availability=EVENING, max_sessions_per_week=1)
    _helpers(make_volunteer, 2, max_sessions_per_week=1)
    starts = tuesday_evening(1)
    for week in range(2):
        session_at(make_session, starts + timedelta(days=7 * week))
    run = operations.request_run(
        window_from=starts - timedelta(days=1), window_to=starts + timedelta(days=13)
    )
    db.session.commit()
    operations.execute(run.id)  # splits it
    db.session.commit()
    parts = [p.id for p in operations._parts(run.id)]
    assert len(parts) == 2

    key_share = sa.text("SELECT id FROM matching_runs WHERE id = :id FOR KEY SHARE")
    with db.engine.connect() as other:
        assert other.execute(key_share, {"id": run.id}).scalar() == run.id
        db.session.execute(sa.text("SET lock_timeout = '2s'"))
        try:
            for part in parts:
                operations.execute(part)  # FOR UPDATE of the run: LockNotAvailable here
                db.session.commit()
        finally:
            db.session.rollback()
            db.session.execute(sa.text("RESET lock_timeout"))
            db.session.commit()
        other.rollback()
    db.session.expire_all()
    finished = db.session.get_one(MatchingRun, run.id)
    assert finished.status == "finished" and finished.filled == 6
