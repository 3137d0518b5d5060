"""What the benchmarks that run the real service share (bench/signups.py, bench/load.py).

A throwaway PostgreSQL database and its migrations, seeding through the app's own
operations, gunicorn and other processes each in its own process group, HTTP on fresh
connections, a sign-up/withdrawal client that knows its volunteers' live bookings,
latency percentiles, the log scan, the SQL checks of capacity and waitlists, and a
cleanup that runs every step whatever fails.

Everything talks to 127.0.0.1 only: PostgreSQL on 5432 (user postgres, trust auth) and
Redis on 6379, on the database the caller names.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PG_ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
PASSWORD = "bench-mat-khau-2026"
WARD = "kim_lien"
GREETER_SEATS = 2
REQUEST_TIMEOUT = 60.0
LIVE = ("confirmed", "proposed", "waitlisted")
VENUES = {"kim_lien": "Nhà văn hóa phường Kim Liên", "phuong_mai": "Nhà văn hóa phường Phương Mai"}


# --- environment, database, processes --------------------------------------------------


def bench_environment(database: str, instance_path: str, redis_url: str) -> dict[str, str]:
    """The environment of the migrations, the seeding and every process started."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql+psycopg://postgres@{HOST}:5432/{database}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_hex(32),
        "COORDINATOR_INSTANCE_PATH": instance_path,  # nothing written to ./instance
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }


def database_dsn(database: str) -> str:
    return f"postgresql://postgres@{HOST}:5432/{database}"


def executable(name: str) -> str:
    path = VENV_BIN / name
    return str(path if path.exists() else Path(sys.executable).parent / name)


def create_database(name: str, template: str | None = None) -> None:
    """An empty database, or a copy of `template` (a kept database nobody is connected
    to: PostgreSQL copies its files, seconds even at city size)."""
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [executable("flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_process(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A process in its own session (so its own process group), output to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C reaches the bench; the bench stops it
        )


def start_matching_workers(
    env: dict[str, str], count: int, workdir: Path, registered: Callable[[], int]
) -> list[subprocess.Popen]:
    """`count` `flask worker` processes on the matching queue, once all have registered
    with RQ (`registered` counts them)."""
    workers = [
        start_process(
            [executable("flask"), "--app", "wsgi", "worker", "--queues", "matching"],
            env,
            workdir / f"worker-{count}-{n}.log",
        )
        for n in range(count)
    ]
    deadline = time.monotonic() + 60
    while registered() < count:
        if time.monotonic() > deadline:
            for worker in workers:
                stop_process(worker)
            raise SystemExit("workers did not start")
        time.sleep(0.2)
    return workers


def start_server(env: dict[str, str], workers: int, port: int, log_path: Path) -> subprocess.Popen:
    argv = [executable("gunicorn"), "-w", str(workers), "-b", f"{HOST}:{port}", "wsgi:app"]
    return start_process(argv, env, log_path)


def wait_ready(process: subprocess.Popen, port: int, log_path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{tail(log_path)}")
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz in {seconds:.0f} s:\n{tail(log_path)}")


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (gunicorn and RQ: a graceful shutdown), then SIGKILL to its process group."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only its processes
        process.wait(timeout=5)


stop_server = stop_process


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def cleanup(steps: Iterable[tuple[str, Callable[[], object]]]) -> None:
    """Each step on its own, so one failure does not leave the others undone; a second
    Ctrl-C or SIGTERM meanwhile is ignored."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # report and go on with the next step
            print(f"cleanup: {name} failed: {exc}", file=sys.stderr)
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def terminate_on_sigterm() -> None:
    """SIGTERM interrupts the bench like Ctrl-C, so its `finally` cleans up."""

    def _terminate(signum, _frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)


# --- seeding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    sessions: list[int]
    roles: list[str]
    volunteers: list[tuple[int, str]]  # (volunteer id, bearer token)
    wards: list[str] = field(default_factory=list)  # wards of the sessions
    squads: list[int] = field(default_factory=list)
    feed_tokens: dict[int, str] = field(default_factory=dict)  # volunteer id -> feed token


def seed(
    sessions: int,
    seats: int,
    volunteers: int,
    *,
    wards: tuple[str, ...] = (WARD,),
    squads: int = 0,
    feed_tokens: bool = False,
    import_map: bool = True,
) -> Seeded:
    """Wards, framework, sessions and volunteers through the app's own operations.

    Sessions take turns over `wards` (the same ward or neighbours, so travel never
    clashes); volunteers have no availability windows, so matching never proposes them
    and their only bookings are the ones the clients make. Optionally `squads` squads of
    four volunteers and a private feed token per volunteer. `import_map=False` for a
    database that has its map and framework already (a copy of a `scale.py` one); the
    volunteers then live in `wards[0]`.

    Runs in this process: the environment (set by the caller) must be in place before
    `config` is imported, which is why the imports are here.
    """
    sys.path.insert(0, str(ROOT))
    from coordinator import create_app
    from coordinator.calendar.tokens import rotate_feed_token
    from coordinator.competences.operations import import_framework_file
    from coordinator.demo import DATA
    from coordinator.extensions import db
    from coordinator.geography.operations import import_wards_file
    from coordinator.people.auth import issue_token
    from coordinator.people.operations import create_volunteer
    from coordinator.sessions.operations import create_sessions
    from coordinator.squads.operations import create_squad

    # No RQ jobs for the seed's own events from here: its events stay in the outbox.
    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        if import_map:
            import_wards_file(DATA / "wards_dong_da.json")
            import_framework_file(DATA / "competences_digcomp22.json")
        first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        session_ids = []
        for n in range(sessions):
            starts = first + timedelta(hours=2 * n)  # 90 minutes, then a 30-minute pause
            ward = wards[n % len(wards)]
            (session,) = create_sessions(
                {
                    "title": f"Benchmark: điện thoại thông minh (buổi {n + 1})",
                    "description": "",
                    "competence_area": "1",
                    "target_group": "residents",
                    "ward": ward,
                    "venue": VENUES.get(ward, f"Nhà văn hóa ({ward})"),
                    "venue_accessibility": [],
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=90),
                    "capacity": 30,
                    "roles": [
                        {"role": "helper", "count": seats, "required_skills": []},
                        {"role": "greeter", "count": GREETER_SEATS, "required_skills": []},
                    ],
                    "participant_needs": [],
                },
                organizer_id=None,
            )
            session_ids.append(session.id)
        db.session.commit()
        seeded_volunteers = []
        tokens = {}
        for n in range(volunteers):
            email = f"bench{n:04d}@bench.squads.vn"
            volunteer = create_volunteer(
                {
                    "full_name": f"Tình nguyện viên {n:04d}",
                    "email": email,
                    "home_ward": wards[0],
                    "skills": ["smartphone_basics"],
                    "max_sessions_per_week": sessions + 1,
                },
                password=PASSWORD,
            )
            seeded_volunteers.append((volunteer.id, issue_token(email, PASSWORD)[0]))
            if feed_tokens:
                tokens[volunteer.id] = rotate_feed_token(volunteer_id=volunteer.id)
        db.session.commit()
        squad_ids = []
        for n in range(min(squads, volunteers // 4)):
            members = [v for v, _ in seeded_volunteers[4 * n : 4 * n + 4]]
            squad = create_squad(
                {
                    "name": f"Đội benchmark {n + 1}",
                    "leader_id": members[0],
                    "member_ids": members[1:],
                    "home_ward": wards[0],
                    "focus_groups": ["residents"],
                }
            )
            db.session.flush()
            squad_ids.append(squad.id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return Seeded(
        session_ids, ["helper", "greeter"], seeded_volunteers, list(wards), squad_ids, tokens
    )


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def json_dict(self) -> dict:
        data = self.json()
        return data if isinstance(data, dict) else {}


def fetch(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """One request on a fresh connection (gunicorn's sync workers close each one)."""
    sent = {"Accept": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)


def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, dict]:
    """A JSON request: the status and the body when it is an object, else {}."""
    reply = fetch(port, method, path, body, token, timeout=timeout)
    return reply.status, reply.json_dict()


def describe(error: dict) -> str:
    return f"{error.get('error')}: {error.get('message')}"


class Budget:
    """Hands out request tickets until the count or the time runs out, or stop is set."""

    def __init__(self, requests: float, duration: float) -> None:
        self.left = requests
        self.deadline = time.monotonic() + duration
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.stop.is_set() or self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def run_threads(clients: list, budget: Budget) -> float:
    """Run `client.run(budget)` in one thread per client; the wall time it took."""
    threads = [
        threading.Thread(target=c.run, args=(budget,), daemon=True, name=f"client-{i}")
        for i, c in enumerate(clients)
    ]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # join in slices: Ctrl-C stays responsive
                thread.join(0.5)
    finally:
        budget.stop.set()
    return time.perf_counter() - started


@dataclass
class Booker:
    """A client driving a disjoint share of the volunteers: it signs them up and
    withdraws them, and so knows their live bookings."""

    port: int
    sessions: list[int]
    roles: list[str]
    volunteers: list[tuple[int, str]]
    withdraw_share: float
    rng: random.Random
    # volunteer id -> {session id: assignment id} of their live bookings
    live: dict[int, dict[int, int]] = field(default_factory=dict)
    samples: list[tuple[str, str, float]] = field(default_factory=list)  # kind, status, ms
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tokens = dict(self.volunteers)

    def book_or_withdraw(self) -> None:
        """Withdraw a live booking with probability `withdraw_share`, else sign up."""
        booked = [(v, s, a) for v, bookings in self.live.items() for s, a in bookings.items()]
        free = [
            (v, t) for v, t in self.volunteers if len(self.live.get(v, {})) < len(self.sessions)
        ]
        if booked and (not free or self.rng.random() < self.withdraw_share):
            self.withdraw(*self.rng.choice(booked))
        else:
            self.sign_up(*self.rng.choice(free))

    def timed(
        self,
        kind: str,
        method: str,
        path: str,
        body: dict | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request, sampled; a transport error is status 0 (counted, never retried)."""
        started = time.perf_counter()
        try:
            reply = fetch(self.port, method, path, body, token, headers)
            label = str(reply.status)
        except (OSError, http.client.HTTPException) as exc:
            reply, label = Reply(0, {}, b""), f"error:{type(exc).__name__}"
        self.samples.append((kind, label, (time.perf_counter() - started) * 1000))
        return reply

    def sign_up(self, volunteer_id: int, token: str) -> None:
        mine = self.live.setdefault(volunteer_id, {})
        session_id = self.rng.choice([s for s in self.sessions if s not in mine])
        role = self.rng.choice(self.roles)
        path = f"/api/v1/sessions/{session_id}/signups"
        reply = self.timed("signup", "POST", path, {"role": role}, token)
        data = reply.json_dict()
        if reply.status == 201:
            mine[session_id] = data["id"]
            self.outcomes[data.get("status")] += 1
        elif 400 <= reply.status < 500:
            self.problems.append(f"sign-up {session_id}/{role}: {reply.status} {describe(data)}")

    def withdraw(self, volunteer_id: int, session_id: int, assignment_id: int) -> None:
        token = self.tokens[volunteer_id]
        path = f"/api/v1/signups/{assignment_id}"
        reply = self.timed("withdraw", "DELETE", path, None, token)
        if reply.status == 200:
            del self.live[volunteer_id][session_id]
            self.outcomes["withdrawn"] += 1
        elif 400 <= reply.status < 500:
            detail = describe(reply.json_dict())
            self.problems.append(f"withdraw {assignment_id}: {reply.status} {detail}")


# --- report ----------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def latency_line(label: str, values: list[float], width: int = 9) -> str:
    values = sorted(values)
    p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
    return (
        f"  {label:<{width}} n={len(values):<6} p50={p50:7.1f} ms  p95={p95:7.1f} ms  "
        f"p99={p99:7.1f} ms  max={values[-1] if values else float('nan'):7.1f} ms"
    )


def report_server_log(log_path: Path, name: str = "server") -> int:
    """Warnings and errors a process logged (e.g. which constraint turned into a 409).
    Returns how many."""
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    found = Counter(
        line.split(" ", 2)[-1] for line in lines if " WARNING " in line or " ERROR " in line
    )
    print(f"{name} log warnings/errors: {sum(found.values())}")
    for message, count in found.most_common(10):
        print(f"  {count} x {message[:200]}")
    return sum(found.values())


# --- database checks -------------------------------------------------------------------

ROLE_STATE = """
SELECT r.id, r.session_id, r.role, r.count, r.taken,
       count(a.id) FILTER (WHERE a.status IN ('confirmed', 'proposed')) AS holding,
       coalesce(array_agg(a.waitlist_position ORDER BY a.waitlist_position)
                FILTER (WHERE a.status = 'waitlisted'), '{}') AS positions
FROM session_roles r
LEFT JOIN assignments a ON a.role_id = r.id
GROUP BY r.id
ORDER BY r.id
"""

DOUBLE_BOOKINGS = """
SELECT session_id, volunteer_id, count(*)
FROM assignments
WHERE status IN ('confirmed', 'proposed', 'waitlisted')
GROUP BY session_id, volunteer_id
HAVING count(*) > 1
"""


def check_database(database: str, client_live: int, volunteers: list[int] | None = None) -> bool:
    """Capacity, waitlists and double bookings; `client_live` is the clients' count of
    live bookings, which must equal the database's (of `volunteers` only, when given: in
    a copied city matching proposes the city's own volunteers meanwhile)."""
    with psycopg.connect(database_dsn(database)) as conn:
        roles = conn.execute(ROLE_STATE).fetchall()
        doubles = conn.execute(DOUBLE_BOOKINGS).fetchall()
        live = conn.execute(
            "SELECT count(*) FROM assignments WHERE status = ANY(%s)"
            + (" AND volunteer_id = ANY(%s)" if volunteers is not None else ""),
            [list(LIVE)] + ([volunteers] if volunteers is not None else []),
        ).fetchone()[0]
        totals = dict(
            conn.execute("SELECT status, count(*) FROM assignments GROUP BY status").fetchall()
        )
    over, drift, gaps, idle = [], [], [], []
    for role_id, session_id, role, count, taken, holding, positions in roles:
        where = f"role {role_id} (session {session_id} {role})"
        if holding > count:
            over.append(f"{where}: {holding} holding seats, count {count}")
        if taken != holding:
            drift.append(f"{where}: taken {taken}, confirmed+proposed {holding}")
        if positions != list(range(1, len(positions) + 1)):
            gaps.append(f"{where}: positions {positions}")
        if positions and holding < count:
            idle.append(f"{where}: {count - holding} free seats, {len(positions)} waiting")
    print(f"\ndatabase: {len(roles)} roles; bookings by status: {dict(sorted(totals.items()))}")
    print(f"overbookings: {len(over)}")
    for name, found in (
        ("taken != confirmed+proposed", drift),
        ("waitlists not 1..n", gaps),
        ("free seats with a waitlist", idle),
    ):
        print(f"{name}: {len(found)}")
    for line in (over + drift + gaps + idle)[:20]:
        print(f"  {line}")
    print(f"volunteers booked twice in a session: {len(doubles)}")
    print(f"live bookings: database {live}, clients' view {client_live}")
    return not (over or drift or gaps or idle or doubles) and live == client_live
