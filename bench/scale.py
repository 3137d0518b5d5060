"""City and national size (issue 18): synthetic data of a district, a city or the whole
country on PostgreSQL, built with bulk SQL, then every page and endpoint a person uses
measured: latency over HTTP (gunicorn, p50/p95), SQL statements and bytes per request
(in process, counted with SQLAlchemy's `before_cursor_execute` hook).

    .venv/bin/python bench/scale.py --size district        # ~1 min
    .venv/bin/python bench/scale.py --size city --keep     # leaves the database

Sizes (the issue's): district 17 wards, 2,000 volunteers, 500 sessions a month; city
126 wards (Hanoi), 20,000 volunteers, 5,000 sessions; country 3,321 units, 200,000
volunteers, 50,000 sessions. The map is the national one (`flask geography
import-national`); neighbour links (not in the national data) join each unit to the
next three of its province by code. Every size has, besides the coming month's sessions,
a past month as many again with two confirmed bookings each (attended, every tenth
a no-show), ten participants registered in each with an assessment (60% reached basic
skills), a squad per 40 volunteers, and a target per unit and group for this year.

`--matching` measures matching runs instead of pages (on the data built, or with
`--reuse` on a kept database): one ward's month end to end in this process (load +
solve + write + commit; wall and CPU time, statements), then the month of the city's
wards (at country size: Hanoi's, a province) as a run split into parts, on 1, 2 and 4
`flask worker` processes serving the matching queue (wall time from the request's
commit to the last part's end; CPU time of the workers and their work-horses), then
the same run again with nothing changed (what it writes). Proposals, runs and events
are removed before each measurement.

With `--keep` (not `--matching`), the coming month is then planned once, as the
automatic runs would, its events marked processed (`plan_coming_month`): a kept city is
one whose plan exists, so a withdrawal in `bench/load.py --template` re-plans what
changed, not the whole city from nothing; `--unplanned` leaves it unplanned (or
`load.py --unplanned` removes the plan from its copy: the first publish's storm).

`--reuse --database-url URL` measures a database built and kept before (migrated and
its maintained figures refreshed, as a worker would); `--only progress,hours` measures
only the requests whose label has one of the words.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 6379
(database 9, or `--redis-url`; emptied at the end). `--database-url` uses an existing,
empty PostgreSQL database instead of creating `wt_scale_<size>_<pid>`; `--keep` leaves
it for profiling.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402 - the bench folder's own module

sys.path.insert(0, str(h.ROOT))  # the app, for the steps that run in process

SIZES = {  # wards (None: every unit of the country), volunteers, sessions a month
    "district": (17, 2_000, 500),
    "city": (126, 20_000, 5_000),
    "country": (None, 200_000, 50_000),
}
CITY = "01"  # Hanoi: the district's and the city's units
REDIS_URL = "redis://127.0.0.1:6379/9"
LOCAL_TZ = "Asia/Ho_Chi_Minh"


class BadInput(Exception):
    """Something the person running the bench must fix: exit 2 with the message."""


# --- data ------------------------------------------------------------------------------

# Volunteers numbered g = 0..V-1, living in ward g mod W.
VOLUNTEERS = """
INSERT INTO volunteers (full_name, search_name, email, home_ward, skills, languages,
    accessibility_skills, is_expert, max_sessions_per_week, preferences,
    notification_settings, locale, active, version, created_at, updated_at)
SELECT 'Tình nguyện viên ' || g, 'tinh nguyen vien ' || g, 'tnv' || g || '@scale.squads.vn',
       (%(wards)s::text[])[1 + g %% %(w)s], '["smartphone_basics"]', '["vi"]', '[]',
       g %% 5 = 0, 1 + g %% 3, '{}', '{}', 'vi', true, 1, now(), now()
FROM generate_series(0, %(v)s - 1) g
"""
WINDOWS = """
INSERT INTO availability_windows (volunteer_id, weekday, start_minute, end_minute)
SELECT id, id %% 7, 18 * 60, 21 * 60 FROM volunteers WHERE email LIKE '%%@scale.squads.vn'
UNION ALL
SELECT id, (id + 3) %% 7, 8 * 60, 12 * 60 FROM volunteers WHERE email LIKE '%%@scale.squads.vn'
UNION ALL
SELECT id, (id + 5) %% 7, 13 * 60 + 30, 17 * 60 + 30 FROM volunteers
WHERE email LIKE '%%@scale.squads.vn' AND id %% 2 = 0
"""
# `sign` 1: the coming month from tomorrow; -1: the month before yesterday. Three slots a
# day, local time; 90 minutes.
SESSIONS = """
INSERT INTO training_sessions (title, description, competence_area, target_group, ward, venue,
    venue_accessibility, starts_at, ends_at, capacity, registered_count, participant_needs,
    languages, status, version, sequence, created_at, updated_at)
SELECT 'Buổi học kỹ năng số ' || g, '', (%(areas)s::text[])[1 + g %% %(a)s],
       (ARRAY['residents', 'civil_servants', 'students'])[1 + g %% 3],
       (%(wards)s::text[])[1 + g %% %(w)s], 'Nhà văn hóa', '[]', t, t + interval '90 minutes',
       30, 0, '[]', '["vi"]', 'published', 1, 0, now(), now()
FROM generate_series(0, %(s)s - 1) g,
LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE %(tz)s)
                 + %(sign)s * interval '1 day' * (1 + (g * 30) / %(s)s)
                 + (ARRAY[interval '8 hours', interval '14 hours',
                          interval '18 hours 30 minutes'])[1 + g %% 3]
                ) AT TIME ZONE %(tz)s AS t) slot
"""
ROLES = """
INSERT INTO session_roles (session_id, role, count, taken, required_skills)
SELECT id, 'lead', 1, 0, '[]'::jsonb FROM training_sessions
UNION ALL
SELECT id, 'helper', 3, 0, '[]'::jsonb FROM training_sessions
"""
# Two helpers a session from its own ward; ended sessions have their attendance.
BOOKINGS = """
WITH s AS (
    SELECT t.id, t.ward, t.ends_at, r.id AS role_id, row_number() OVER (ORDER BY t.id) AS g
    FROM training_sessions t JOIN session_roles r ON r.session_id = t.id AND r.role = 'helper'
), v AS (
    SELECT id, home_ward, row_number() OVER (PARTITION BY home_ward ORDER BY id) - 1 AS k,
           count(*) OVER (PARTITION BY home_ward) AS n
    FROM volunteers WHERE email LIKE '%%@scale.squads.vn'
)
INSERT INTO assignments (session_id, role_id, volunteer_id, source, status, reasons,
    session_version, created_at, updated_at, late_withdrawal, attendance)
SELECT s.id, s.role_id, v.id, 'self', 'confirmed', '[]', 1, now(), now(), false,
       CASE WHEN s.ends_at < now() THEN
            CASE WHEN (s.g + j) %% 10 = 0 THEN 'no_show' ELSE 'attended' END END
FROM s CROSS JOIN generate_series(0, 1) j
JOIN v ON v.home_ward = s.ward AND v.k = (s.g * 13 + j * 7) %% v.n
"""
TAKEN = """
UPDATE session_roles r SET taken = a.n
FROM (SELECT role_id, count(*) AS n FROM assignments GROUP BY role_id) a
WHERE a.role_id = r.id
"""
SQUADS = """
INSERT INTO squads (name, leader_id, home_ward, focus_groups, version, created_at, updated_at)
SELECT 'Đội ' || id, id, home_ward, '["residents"]', 1, now(), now()
FROM volunteers WHERE email LIKE '%%@scale.squads.vn' AND id %% 40 = 0
"""
MEMBERS = """
INSERT INTO squad_members (squad_id, volunteer_id, joined_at)
SELECT s.id, s.leader_id + m, now() FROM squads s CROSS JOIN generate_series(0, 3) m
WHERE EXISTS (SELECT 1 FROM volunteers v WHERE v.id = s.leader_id + m)
"""
PARTICIPANTS = """
INSERT INTO participants (full_name, ward, target_group, consent_at, locale,
    notification_settings, created_at)
SELECT 'Học viên ' || t.id || '-' || k, t.ward, t.target_group, t.starts_at - interval '7 days',
       'vi', '{}', t.starts_at - interval '7 days'
FROM training_sessions t CROSS JOIN generate_series(1, 10) k
WHERE t.ends_at < now()
"""
REGISTRATIONS = """
INSERT INTO registrations (session_id, participant_id, status, created_at, updated_at, attended)
SELECT split_part(substr(full_name, 10), '-', 1)::int, id, 'registered', created_at,
       created_at, true
FROM participants WHERE full_name LIKE 'Học viên %%'
"""
REGISTERED = """
UPDATE training_sessions t SET registered_count = r.n
FROM (SELECT session_id, count(*) AS n FROM registrations GROUP BY session_id) r
WHERE r.session_id = t.id
"""
ASSESSMENTS = """
INSERT INTO assessments (participant_id, session_id, competence_code, level, reached_basic,
    assessed_at)
SELECT r.participant_id, r.session_id, t.competence_area, 3, r.participant_id %% 5 < 3, t.ends_at
FROM registrations r JOIN training_sessions t ON t.id = r.session_id
"""
TARGETS = """
INSERT INTO population_targets (ward, target_group, year, baseline, target_percent,
    reached_before)
SELECT w, g, extract(year FROM now() AT TIME ZONE %(tz)s)::int, 5000, NULL, 0
FROM unnest(%(wards)s::text[]) w
CROSS JOIN unnest(ARRAY['residents', 'civil_servants', 'students']) g
"""
# Each unit to the next three of its province by code, both ways (the app keeps the
# links symmetric).
NEIGHBOURS = """
WITH u AS (
    SELECT code, province_code, row_number() OVER (PARTITION BY province_code ORDER BY code) AS i
    FROM wards WHERE code = ANY(%(wards)s::text[])
), pairs AS (
    SELECT a.code AS x, b.code AS y FROM u a
    JOIN u b ON b.province_code = a.province_code AND b.i BETWEEN a.i + 1 AND a.i + 3
)
INSERT INTO ward_neighbors (ward_code, neighbor_code)
SELECT x, y FROM pairs UNION SELECT y, x FROM pairs
ON CONFLICT DO NOTHING
"""


def chosen_wards(conn: psycopg.Connection, size: str) -> list[str]:
    count = SIZES[size][0]
    if count is None:
        query, args = "SELECT code FROM wards WHERE valid_to IS NULL ORDER BY code", []
    else:
        query = (
            "SELECT code FROM wards WHERE province_code = %s AND valid_to IS NULL "
            "ORDER BY code LIMIT %s"
        )
        args = [CITY, count]
    return [row[0] for row in conn.execute(query, args)]


def build(database: str, size: str, env: dict[str, str]) -> dict[str, float]:
    """The map, the framework, the bulk rows and two logins; seconds per step."""
    timings: dict[str, float] = {}

    def step(name: str, action) -> None:
        started = time.perf_counter()
        action()
        timings[name] = time.perf_counter() - started
        print(f"  {name:<28} {timings[name]:7.1f} s", flush=True)

    step("migrations", lambda: h.migrate(env))
    step("national map", lambda: _flask(env, "geography", "import-national"))
    step("framework, logins", lambda: _accounts_and_framework())
    _, volunteers, sessions = SIZES[size]
    with psycopg.connect(h.database_dsn(database), autocommit=True) as conn:
        wards = chosen_wards(conn, size)
        areas = [r[0] for r in conn.execute("SELECT code FROM competences WHERE code !~ '[.]'")]
        args = {
            "wards": wards,
            "w": len(wards),
            "v": volunteers,
            "s": sessions,
            "areas": areas,
            "a": len(areas),
            "tz": LOCAL_TZ,
        }
        for name, sql, extra in (
            ("neighbour links", NEIGHBOURS, {}),
            ("volunteers", VOLUNTEERS, {}),
            ("availability", WINDOWS, {}),
            ("squads", SQUADS, {}),
            ("squad members", MEMBERS, {}),
            ("sessions (coming month)", SESSIONS, {"sign": 1}),
            ("sessions (past month)", SESSIONS, {"sign": -1}),
            ("roles", ROLES, {}),
            ("bookings", BOOKINGS, {}),
            ("seats taken", TAKEN, {}),
            ("participants", PARTICIPANTS, {}),
            ("registrations", REGISTRATIONS, {}),
            ("registered counts", REGISTERED, {}),
            ("assessments", ASSESSMENTS, {}),
            ("targets", TARGETS, {}),
        ):
            step(name, lambda sql=sql, extra=extra: conn.execute(sql, {**args, **extra}))
        step("vacuum analyze", lambda: conn.execute("VACUUM ANALYZE"))
    step("progress counts", lambda: _refresh_counts(env))
    return timings


def _refresh_counts(env: dict[str, str]) -> None:
    """The maintained progress counts, as a worker would refresh them after a change
    (the bulk SQL above bypasses the app). Code without them: nothing to do."""
    import subprocess

    subprocess.run(
        [h.executable("flask"), "--app", "wsgi", "refresh-progress-counts"],
        cwd=h.ROOT,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _flask(env: dict[str, str], *argv: str) -> None:
    import subprocess

    subprocess.run(
        [h.executable("flask"), "--app", "wsgi", *argv],
        cwd=h.ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


ORGANIZER = "to-chuc@scale.squads.vn"
VOLUNTEER = "tnv-do@scale.squads.vn"


def _accounts_and_framework() -> None:
    """The competence framework, a national organizer and the measured volunteer, through
    the app's own operations (the environment is already this process's)."""
    from coordinator import create_app
    from coordinator.competences.operations import import_framework_file
    from coordinator.extensions import db
    from coordinator.people.operations import create_user

    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        import_framework_file()
        create_user(ORGANIZER, "organizer", h.PASSWORD)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _measured_volunteer(ward: str) -> None:
    """The volunteer whose "sessions that fit me" are measured: an expert in the first
    ward, free every day from 07:00 to 22:00, with a high weekly limit."""
    from coordinator import create_app
    from coordinator.extensions import db
    from coordinator.people.operations import create_volunteer

    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        create_volunteer(
            {
                "full_name": "Đỗ Thị Đo",
                "email": VOLUNTEER,
                "home_ward": ward,
                "skills": ["smartphone_basics"],
                "is_expert": True,
                "max_sessions_per_week": 50,
                "availability": [
                    {"weekday": d, "start_minute": 7 * 60, "end_minute": 22 * 60} for d in range(7)
                ],
            },
            password=h.PASSWORD,
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


# --- measuring -------------------------------------------------------------------------


@dataclass
class Probe:
    label: str
    who: str  # organizer, volunteer or anonymous
    method: str
    path: str
    page: bool = False  # an HTML page
    ms: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    queries: int | None = None
    size: int | None = None


def probes(ward: str, session_id: int) -> list[Probe]:
    return [
        Probe("organizer dashboard", "organizer", "GET", "/organize/", page=True),
        Probe("sessions that fit me", "volunteer", "GET", "/me/fits", page=True),
        Probe("GET /api/v1/volunteers", "organizer", "GET", "/api/v1/volunteers"),
        Probe("GET /api/v1/progress (wards)", "organizer", "GET", "/api/v1/progress"),
        Probe("GET /api/v1/progress?level=province", "organizer", "GET",
              "/api/v1/progress?level=province"),
        Probe("GET /api/v1/progress?level=national", "organizer", "GET",
              "/api/v1/progress?level=national"),
        Probe("progress page", "organizer", "GET", "/organize/progress", page=True),
        Probe("GET /api/v1/hours", "organizer", "GET", "/api/v1/hours"),
        Probe("hours page", "organizer", "GET", "/organize/hours", page=True),
        Probe("GET /api/v1/sessions?ward=", "anonymous", "GET", f"/api/v1/sessions?ward={ward}"),
        Probe("GET /api/v1/sessions (all)", "anonymous", "GET", "/api/v1/sessions"),
        Probe("ward page", "anonymous", "GET", f"/wards/{ward}", page=True),
        Probe("ward feed (.ics)", "anonymous", "GET", f"/calendar/wards/{ward}.ics", page=True),
        Probe("GET /api/v1/squads", "anonymous", "GET", "/api/v1/squads"),
        Probe("GET /api/v1/wards", "anonymous", "GET", "/api/v1/wards"),
        Probe("sign-up POST (+ withdraw)", "volunteer", "POST",
              f"/api/v1/sessions/{session_id}/signups"),
    ]  # fmt: skip


def count_queries(found: list[Probe], tokens: dict[str, str]) -> None:
    """Statements and bytes of one request each, in process."""
    import sqlalchemy as sa
    from flask import g

    from coordinator import create_app
    from coordinator.extensions import db

    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        client = app.test_client()
        for probe in found:
            seen: list[str] = []

            def hook(_conn, _cursor, statement, *_args, seen=seen) -> None:
                seen.append(statement)

            headers = {"Accept": "text/html" if probe.page else "application/json"}
            if probe.who in tokens:
                headers["Authorization"] = f"Bearer {tokens[probe.who]}"
            for name in list(g):  # a fresh request's globals (the context outlives it)
                g.pop(name)
            sa.event.listen(db.engine, "before_cursor_execute", hook)
            try:
                body = {"role": "helper"} if probe.method == "POST" else None
                reply = client.open(probe.path, method=probe.method, json=body, headers=headers)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", hook)
            probe.queries, probe.size = len(seen), len(reply.get_data())
            if probe.method == "POST" and reply.status_code == 201:
                client.delete(f"/api/v1/signups/{reply.json['id']}", headers=headers)
        db.session.remove()
        db.engine.dispose()


def time_requests(
    port: int, found: list[Probe], tokens: dict[str, str], rounds: int, warm: int = 0
) -> None:
    """`rounds` requests of each probe over HTTP, interleaved (noise spreads evenly),
    after `warm` untimed rounds (a gunicorn worker's first request of a page compiles
    its templates and SQL: with 2 workers and 20 rounds, p95 is the second slowest
    sample, which can be the other worker's first)."""
    for n in range(warm + rounds):
        for probe in found:
            headers = {"Accept": "text/html"} if probe.page else {}
            body = {"role": "helper"} if probe.method == "POST" else None
            started = time.perf_counter()
            reply = h.fetch(
                port, probe.method, probe.path, body, tokens.get(probe.who), headers=headers
            )
            if n >= warm:
                probe.ms.append((time.perf_counter() - started) * 1000)
            probe.statuses.add(reply.status)
            if probe.method == "POST" and reply.status == 201:
                h.fetch(
                    port, "DELETE", f"/api/v1/signups/{reply.json_dict()['id']}", None,
                    tokens[probe.who],
                )  # fmt: skip


def report(
    size: str, found: list[Probe], build_s: float, load: tuple[float, ...], warm: int = 0
) -> None:
    averages = " ".join(f"{x:.2f}" for x in load)
    print(f"\nsize {size}: ready in {build_s:.0f} s; load average before measuring {averages}, "
          f"after {_loadavg()}")  # fmt: skip
    print("(a shared 2-core machine: noisy; compare runs at similar load)")
    print(f"{warm} untimed round(s) first; `first ms`: the first timed request of each")
    print("\n| request | p50 ms | p95 ms | max ms | first ms | queries | bytes | status |")
    print("|---|---|---|---|---|---|---|---|")
    for p in found:
        values = sorted(p.ms)
        p50 = statistics.median(values)
        p95 = h.percentile(values, 95)
        statuses = ",".join(str(s) for s in sorted(p.statuses))
        print(f"| {p.label} | {p50:.0f} | {p95:.0f} | {values[-1]:.0f} | {p.ms[0]:.0f} | "
              f"{p.queries} | {p.size:,} | {statuses} |")  # fmt: skip


# --- matching runs -----------------------------------------------------------------------

RESET = (
    "DELETE FROM notifications",
    "DELETE FROM assignments WHERE source = 'matcher'",
    """UPDATE session_roles r SET taken = coalesce(a.n, 0)
       FROM session_roles r2 LEFT JOIN (
           SELECT role_id, count(*) AS n FROM assignments
           WHERE status IN ('confirmed', 'proposed', 'waitlisted') GROUP BY role_id
       ) a ON a.role_id = r2.id
       WHERE r2.id = r.id AND r.taken <> coalesce(a.n, 0)""",
    "DELETE FROM matching_runs",
    "DELETE FROM domain_events",
)


def plan_coming_month(database: str) -> str:
    """Plan the coming month as the automatic runs would (one run per calendar month the
    next 31 days touch, split into parts, all run here), then mark every event processed:
    a kept city stands for one whose plan exists, so a withdrawal in `load.py` re-plans
    what changed instead of the whole city from nothing. Returns a one-line summary."""
    from datetime import timedelta

    import sqlalchemy as sa

    from coordinator import create_app
    from coordinator.database import utcnow
    from coordinator.extensions import db
    from coordinator.matching import operations
    from coordinator.matching.models import MatchingRun, RunStatus

    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        now = utcnow()
        for moment in (now, now + timedelta(days=31)):
            operations.schedule_auto_run(moment)
            db.session.commit()
        for _ in range(10):  # the runs, then their parts, then any run a stale part asks
            queued = db.session.scalars(
                sa.select(MatchingRun.id)
                .where(MatchingRun.status == RunStatus.QUEUED)
                .order_by(MatchingRun.id)
            ).all()
            db.session.rollback()
            if not queued:
                break
            for run_id in queued:
                operations.execute(run_id)
                db.session.commit()
        top = db.session.execute(
            sa.select(MatchingRun.status, MatchingRun.filled, MatchingRun.unfilled).where(
                MatchingRun.parent_id.is_(None)
            )
        ).all()
        db.session.remove()
        db.engine.dispose()
    with psycopg.connect(h.database_dsn(database), autocommit=True) as conn:
        events = conn.execute(
            "UPDATE domain_events SET enqueued_at = coalesce(enqueued_at, now()), "
            "processed_at = now() WHERE processed_at IS NULL"
        ).rowcount
    runs = ", ".join(f"{r.status} {r.filled} filled / {r.unfilled} unfilled" for r in top)
    return f"{len(top)} runs ({runs}); {events} events marked processed"


def planned(database: str) -> bool:
    """Whether a matching run has planned this database's coming month already."""
    with psycopg.connect(h.database_dsn(database)) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM matching_runs WHERE status = 'finished' AND window_to > now() "
                "LIMIT 1"
            ).fetchone()
        )


def _reset_matching(database: str) -> None:
    """No proposals, runs or events: every measurement starts from the built data."""
    with psycopg.connect(h.database_dsn(database), autocommit=True) as conn:
        for statement in RESET:
            conn.execute(statement)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its waited-for children (RQ's work-horses)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure_matching(env: dict[str, str], ward: str, worker_counts: list[int]) -> None:
    import gc
    from datetime import timedelta

    import redis
    import sqlalchemy as sa
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from coordinator import create_app
    from coordinator.database import utcnow
    from coordinator.extensions import db
    from coordinator.matching import operations
    from coordinator.matching.models import MatchingRun

    database = env["DATABASE_URL"].rsplit("/", 1)[-1]
    with psycopg.connect(h.database_dsn(database)) as conn:
        units = [r[0] for r in conn.execute(
            "SELECT code FROM wards WHERE province_code = %s AND valid_to IS NULL", [CITY]
        )]  # fmt: skip
        sessions = conn.execute(
            "SELECT count(*) FROM training_sessions WHERE starts_at > now() AND ward = ANY(%s)",
            [units],
        ).fetchone()[0]
    window = (utcnow(), utcnow() + timedelta(days=31))
    print(f"matching: ward {ward}; the month of {len(units)} wards of province {CITY} "
          f"({sessions:,} sessions)")  # fmt: skip
    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        statements: list[str] = []
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        print("\n| one ward's month, in process | wall s | CPU s | statements | engine s | "
              "filled | load average |\n|---|---|---|---|---|---|---|")  # fmt: skip
        gc.freeze()  # as a worker does before forking the horse that runs a job
        for _ in range(3):
            _reset_matching(database)
            run = operations.request_run(ward=ward, window_from=window[0], window_to=window[1])
            db.session.commit()
            statements.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            run = operations.execute(run.id)
            db.session.commit()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"| run | {wall:.3f} | {cpu:.3f} | {len(statements)} | "
                  f"{run.stats.get('seconds', 0):.3f} | {run.filled} | {_loadavg()} |")  # fmt: skip
        db.session.remove()
        db.engine.dispose()

    app = create_app()  # the relay on: the request's commit enqueues its job
    workdir = Path(tempfile.mkdtemp(prefix="scale-matching-"))
    client = redis.Redis.from_url(env["REDIS_URL"])

    def on_workers(count: int, week_parts: int | None = None) -> dict:
        # A deployment sets MATCHING_WEEK_PARTS to its matching workers; so does the bench
        # (unless it is given).
        parts = {
            "MATCHING_WEEK_PARTS": os.environ.get("MATCHING_WEEK_PARTS", str(week_parts or count))
        }
        workers = h.start_matching_workers(
            {**env, **parts}, count, workdir, lambda: len(client.smembers("rq:workers"))
        )
        try:
            time.sleep(1)
            cpu = sum(_cpu_seconds(w.pid) for w in workers)
            with app.app_context():
                run = operations.request_run(
                    units=units, window_from=window[0], window_to=window[1]
                )
                db.session.commit()
                run_id = run.id
                while True:
                    status = db.session.scalar(
                        sa.select(MatchingRun.status).where(MatchingRun.id == run_id)
                    )
                    db.session.rollback()
                    if status in ("finished", "failed"):
                        break
                    time.sleep(0.05)
                run = db.session.get(MatchingRun, run_id)
                parts = db.session.scalars(
                    sa.select(MatchingRun).where(MatchingRun.parent_id == run_id)
                ).all()
                written = db.session.scalar(
                    sa.select(sa.func.count()).select_from(sa.text("domain_events"))
                    .where(sa.text("type = 'assignment.matched'"))
                )  # fmt: skip
                result = {
                    "wall": (run.finished_at - run.created_at).total_seconds(),
                    "status": run.status,
                    "filled": run.filled,
                    "unfilled": run.unfilled,
                    "parts": sorted(
                        round((p.finished_at - p.started_at).total_seconds(), 1) for p in parts
                    ),
                    "events": written,
                }
                db.session.remove()
            # The last parts' jobs still relay their events after the run's end: their
            # work-horses' CPU counts once they are done (and reaped by their worker).
            queue = Queue("matching", connection=client)
            started = StartedJobRegistry("matching", connection=client)
            deadline = time.monotonic() + 30
            while (queue.count or started.count) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            result["cpu"] = sum(_cpu_seconds(w.pid) for w in workers) - cpu
            return result
        finally:
            for worker in workers:
                h.stop_process(worker)
            client.flushdb()

    print("\n| the month of the province's wards | wall s | workers' CPU s | parts (s each) | "
          "filled / unfilled | assignment.matched events | load average after |\n"
          "|---|---|---|---|---|---|---|")  # fmt: skip
    for count in worker_counts:
        _reset_matching(database)
        r = on_workers(count)
        print(f"| {count} worker(s), {r['status']} | {r['wall']:.1f} | {r['cpu']:.1f} | "
              f"{len(r['parts'])}: {r['parts']} | {r['filled']} / {r['unfilled']} | "
              f"{r['events']} | {_loadavg()} |")  # fmt: skip
    if not worker_counts:
        return
    # Nothing changed: the data nor the partition (MATCHING_WEEK_PARTS as the last run's;
    # another partition plans other parts, which moves proposals).
    again = on_workers(2, week_parts=worker_counts[-1])
    print(f"| again, nothing changed, 2 workers | {again['wall']:.1f} | {again['cpu']:.1f} | "
          f"{len(again['parts'])} | {again['filled']} / {again['unfilled']} | "
          f"{again['events']} (the first run's) | {_loadavg()} |")  # fmt: skip
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- main ------------------------------------------------------------------------------


def check_postgres(url: str | None) -> None:
    if url is not None and not url.startswith(("postgresql://", "postgresql+psycopg://")):
        raise BadInput(f"--database-url must be a PostgreSQL URL (postgresql://...), not {url!r}")
    dsn = url.replace("postgresql+psycopg://", "postgresql://") if url else h.PG_ADMIN_DSN
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            pass
    except psycopg.Error as error:
        raise BadInput(
            f"PostgreSQL does not answer at {dsn} ({str(error).strip()}); the bench needs "
            "PostgreSQL (user postgres, trust auth) on 127.0.0.1:5432, or --database-url"
        ) from error


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", required=True, choices=list(SIZES))
    parser.add_argument("--keep", action="store_true", help="leave the database")
    parser.add_argument("--database-url", help="an existing, empty PostgreSQL database")
    parser.add_argument("--rounds", type=int, default=20, help="requests per endpoint (20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        help="untimed rounds of every request before the timed ones (0: each gunicorn "
        "worker's first request of a page, which compiles its templates, is timed)",
    )
    parser.add_argument(
        "--redis-url", default=REDIS_URL, help=f"a Redis database to use and empty ({REDIS_URL})"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure a database this script built and kept (--database-url): migrate and "
        "refresh the maintained figures, no building",
    )
    parser.add_argument(
        "--matching",
        action="store_true",
        help="measure matching runs (a ward's month, the city's or a province's month on "
        "1, 2 and 4 workers) instead of pages",
    )
    parser.add_argument(
        "--unplanned",
        action="store_true",
        help="with --keep: leave the coming month unplanned (by default a kept database "
        "gets its month planned once, as a city whose plan exists; `load.py --unplanned` "
        "measures the first run's storm on a planned copy too)",
    )
    parser.add_argument("--matching-workers", default="1,2,4", help="worker process counts (1,2,4)")
    parser.add_argument(
        "--only",
        help="comma-separated words: measure only the requests whose label has one "
        "(e.g. progress,hours: the sign-up probe changes bookings, so the hours summary)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.workers < 1 or args.warm < 0:
        parser.error("--rounds and --workers must be at least 1, --warm at least 0")
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url (the kept database)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # argparse: a clear message and exit 2 on bad input
    try:
        check_postgres(args.database_url)
    except BadInput as problem:
        print(f"scale.py: {problem}", file=sys.stderr)
        return 2
    h.terminate_on_sigterm()
    if args.database_url:
        url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        database = url.rsplit("/", 1)[-1]
        created = False
    else:
        database = f"wt_scale_{args.size}_{os.getpid()}"
        h.create_database(database)
        created = True
    instance = tempfile.mkdtemp(prefix="squads-scale-")
    env = h.bench_environment(database, instance, args.redis_url)
    if args.database_url:
        env["DATABASE_URL"] = url
    os.environ.update(env)  # the in-process steps read the same configuration
    server = None
    log_path = Path(instance) / "gunicorn.log"
    try:
        print(f"building {args.size} in {database}:", flush=True)
        started = time.perf_counter()
        with psycopg.connect(h.database_dsn(database)) as conn:
            built = args.reuse and conn.execute("SELECT to_regclass('volunteers')").fetchone()[0]
        if built:
            h.migrate(env)
            _refresh_counts(env)
        else:
            build(database, args.size, env)
        with psycopg.connect(h.database_dsn(database)) as conn:
            ward = chosen_wards(conn, args.size)[0]
        if not built:
            _measured_volunteer(ward)
        if args.keep and not args.matching and not args.unplanned and not planned(database):
            plan_started = time.perf_counter()
            summary = plan_coming_month(database)
            print(f"  {'coming month planned':<28} {time.perf_counter() - plan_started:7.1f} s"
                  f"  ({summary})", flush=True)  # fmt: skip
        build_s = time.perf_counter() - started
        if args.matching:
            counts = [int(n) for n in args.matching_workers.split(",") if n.strip()]
            measure_matching(env, ward, counts)
            return 0
        tokens = {
            "organizer": _token(ORGANIZER),
            "volunteer": _token(VOLUNTEER),
        }
        with psycopg.connect(h.database_dsn(database)) as conn:
            session_id = conn.execute(
                "SELECT id FROM training_sessions WHERE ward = %s AND starts_at > now() "
                "ORDER BY starts_at LIMIT 1",
                [ward],
            ).fetchone()[0]
        found = probes(ward, session_id)
        if args.only:
            words = [w.strip().lower() for w in args.only.split(",") if w.strip()]
            found = [p for p in found if any(w in p.label.lower() for w in words)]
        count_queries(found, tokens)
        port = h.free_port()
        server = h.start_server(env, args.workers, port, log_path)
        h.wait_ready(server, port, log_path)
        for _ in range(2 * args.workers):  # warm: a worker's first request connects
            h.fetch(port, "GET", "/healthz")
        load = os.getloadavg()
        time_requests(port, found, tokens, args.rounds, args.warm)
        report(args.size, found, build_s, load, args.warm)
        h.report_server_log(log_path)
        return 0
    finally:
        steps = [("stop gunicorn", lambda: server and h.stop_server(server))]
        if created and not args.keep:
            steps.append(("drop database", lambda: h.drop_database(database)))
        steps.append(("flush redis", lambda: _flush_redis(args.redis_url)))
        h.cleanup(steps)
        if args.keep:
            print(f"kept: {env['DATABASE_URL']}")


def _token(email: str) -> str:
    from coordinator import create_app
    from coordinator.extensions import db
    from coordinator.people.auth import issue_token

    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        token = issue_token(email, h.PASSWORD)[0]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    sys.exit(main())
