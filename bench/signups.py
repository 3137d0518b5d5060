"""Sign-up throughput, latency and an overbooking check against a real running server.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/signups.py --clients 50 --requests 3000

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on
127.0.0.1:6379. What it does:

1. creates a throwaway database `squads_bench_<pid>` and applies the migrations with
   `flask --app wsgi db upgrade`;
2. seeds, through the app's own operations: the demo wards and competence framework,
   `--sessions` sessions in one ward at non-overlapping times (three days ahead, so no
   withdrawal is late), each with a `helper` role of `--seats` seats and a `greeter`
   role of 2, and `--volunteers` volunteers with bearer tokens and a weekly limit above
   the number of sessions (so time conflicts and weekly limits never refuse a sign-up);
3. starts `gunicorn -w 2 -b 127.0.0.1:<free port> wsgi:app` (`--workers`) and waits
   for /healthz;
4. runs `--clients` threads; each owns a disjoint share of the volunteers, so it knows
   their live bookings, and repeatedly either signs one of them up for a random
   session and role they are not booked in (POST /api/v1/sessions/{id}/signups) or,
   with probability `--withdraw`, withdraws one of their bookings
   (DELETE /api/v1/signups/{id}). The run stops after `--requests` requests or
   `--duration` seconds, whichever comes first;
5. prints requests, sign-ups per second, p50/p95/p99 latency, status code counts and
   the warnings the server logged, then checks the database: per role,
   confirmed+proposed bookings <= count ("overbookings: 0") and session_roles.taken
   equal to them, waitlist positions 1..n, no free seat while someone waits, no
   volunteer twice in a session, and the clients' view of live bookings equal to the
   database's;
6. stops gunicorn, drops the database and flushes Redis db 9, also on Ctrl-C or errors.

Uses only Redis db 9 and its own database; every request goes to 127.0.0.1. The exit
status is 0 only when there was no 5xx, no 4xx (every request is valid), no transport
error and no failed check.
Password hashing runs with the cheap test profile (PASSWORD_HASH_TIME_COST=1,
PASSWORD_HASH_MEMORY_KIB=1024) so seeding hundreds of logins takes seconds; sign-ups
themselves never hash a password (bearer tokens are looked up by SHA-256).
"""

from __future__ import annotations

import argparse
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
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PG_ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
REDIS_URL = f"redis://{HOST}:6379/9"
PASSWORD = "bench-mat-khau-2026"
WARD = "kim_lien"
GREETER_SEATS = 2
REQUEST_TIMEOUT = 60.0
LIVE = ("confirmed", "proposed", "waitlisted")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--requests", type=int, default=3000, help="stop after N (3000)")
    parser.add_argument("--duration", type=float, default=120.0, help="or after S s (120)")
    parser.add_argument(
        "--volunteers", type=int, default=None, help="volunteers (default: 4 per client)"
    )
    parser.add_argument("--sessions", type=int, default=40, help="sessions (40)")
    parser.add_argument("--seats", type=int, default=5, help="helper seats per session (5)")
    parser.add_argument("--withdraw", type=float, default=0.2, help="share of withdrawals (0.2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    args = parser.parse_args(argv)
    args.volunteers = args.volunteers or 4 * args.clients
    if args.clients < 1 or args.volunteers < args.clients:
        parser.error("need at least one client and one volunteer per client")
    if args.requests < 1 or args.duration <= 0 or not 0 <= args.withdraw < 1:
        parser.error("--requests and --duration must be positive, --withdraw in [0, 1)")
    return args


# --- environment, database, server -----------------------------------------------------


def bench_environment(database: str, instance_path: str) -> dict[str, str]:
    """The environment of the migrations, the seeding and the server."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql+psycopg://postgres@{HOST}:5432/{database}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_hex(32),
        "COORDINATOR_INSTANCE_PATH": instance_path,  # nothing written to ./instance
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }


def executable(name: str) -> str:
    path = VENV_BIN / name
    return str(path if path.exists() else Path(sys.executable).parent / name)


def create_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


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


def start_server(env: dict[str, str], workers: int, port: int, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [executable("gunicorn"), "-w", str(workers), "-b", f"{HOST}:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C reaches the bench; the bench stops it
        )


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


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # gunicorn: graceful shutdown of the workers
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only gunicorn's processes
        process.wait(timeout=5)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- seeding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    sessions: list[int]
    roles: list[str]
    volunteers: list[tuple[int, str]]  # (volunteer id, bearer token)


def seed(args: argparse.Namespace) -> Seeded:
    """Wards, framework, sessions and volunteers through the app's own operations.

    Runs in this process: the environment (set by main) must be in place before
    `config` is imported, which is why the imports are here.
    """
    sys.path.insert(0, str(ROOT))
    from coordinator import create_app
    from coordinator.competences.operations import import_framework_file
    from coordinator.demo import DATA
    from coordinator.extensions import db
    from coordinator.geography.operations import import_wards_file
    from coordinator.people.auth import issue_token
    from coordinator.people.operations import create_volunteer
    from coordinator.sessions.operations import create_sessions

    # No RQ jobs for the seed's own events: Redis db 9 carries only the run's.
    app = create_app({"OUTBOX_RELAY_AFTER_COMMIT": False})
    with app.app_context():
        import_wards_file(DATA / "wards_dong_da.json")
        import_framework_file(DATA / "competences_digcomp22.json")
        first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        session_ids = []
        for n in range(args.sessions):
            starts = first + timedelta(hours=2 * n)  # 90 minutes, then a 30-minute pause
            (session,) = create_sessions(
                {
                    "title": f"Benchmark: điện thoại thông minh (buổi {n + 1})",
                    "description": "",
                    "competence_area": "1",
                    "target_group": "residents",
                    "ward": WARD,
                    "venue": "Nhà văn hóa phường Kim Liên",
                    "venue_accessibility": [],
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=90),
                    "capacity": 30,
                    "roles": [
                        {"role": "helper", "count": args.seats, "required_skills": []},
                        {"role": "greeter", "count": GREETER_SEATS, "required_skills": []},
                    ],
                    "participant_needs": [],
                },
                organizer_id=None,
            )
            session_ids.append(session.id)
        db.session.commit()
        volunteers = []
        for n in range(args.volunteers):
            email = f"bench{n:04d}@bench.squads.vn"
            volunteer = create_volunteer(
                {
                    "full_name": f"Tình nguyện viên {n:04d}",
                    "email": email,
                    "home_ward": WARD,
                    "skills": ["smartphone_basics"],
                    "max_sessions_per_week": args.sessions + 1,
                },
                password=PASSWORD,
            )
            volunteers.append((volunteer.id, issue_token(email, PASSWORD)[0]))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return Seeded(session_ids, ["helper", "greeter"], volunteers)


# --- load ------------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, dict]:
    """One request on a fresh connection (gunicorn's sync workers close each one)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return response.status, data if isinstance(data, dict) else {}


def describe(error: dict) -> str:
    return f"{error.get('error')}: {error.get('message')}"


class Budget:
    """Hands out request tickets until the count or the time runs out, or stop is set."""

    def __init__(self, requests: int, duration: float) -> None:
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


@dataclass
class Client:
    """One simulated user agent driving a disjoint share of the volunteers."""

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

    def run(self, budget: Budget) -> None:
        while budget.take():
            booked = [(v, s, a) for v, bookings in self.live.items() for s, a in bookings.items()]
            free = [
                (v, t) for v, t in self.volunteers if len(self.live.get(v, {})) < len(self.sessions)
            ]
            if booked and (not free or self.rng.random() < self.withdraw_share):
                self.withdraw(*self.rng.choice(booked))
            else:
                self.sign_up(*self.rng.choice(free))

    def _timed(self, kind: str, method: str, path: str, body: dict | None, token: str):
        started = time.perf_counter()
        try:
            status, data = request(self.port, method, path, body, token)
            label = str(status)
        except (OSError, http.client.HTTPException) as exc:  # counted, never retried
            status, data, label = 0, {}, f"error:{type(exc).__name__}"
        self.samples.append((kind, label, (time.perf_counter() - started) * 1000))
        return status, data

    def sign_up(self, volunteer_id: int, token: str) -> None:
        mine = self.live.setdefault(volunteer_id, {})
        session_id = self.rng.choice([s for s in self.sessions if s not in mine])
        role = self.rng.choice(self.roles)
        path = f"/api/v1/sessions/{session_id}/signups"
        status, data = self._timed("signup", "POST", path, {"role": role}, token)
        if status == 201:
            mine[session_id] = data["id"]
            self.outcomes[data.get("status")] += 1
        elif 400 <= status < 500:
            self.problems.append(f"sign-up {session_id}/{role}: {status} {describe(data)}")

    def withdraw(self, volunteer_id: int, session_id: int, assignment_id: int) -> None:
        token = self.tokens[volunteer_id]
        path = f"/api/v1/signups/{assignment_id}"
        status, data = self._timed("withdraw", "DELETE", path, None, token)
        if status == 200:
            del self.live[volunteer_id][session_id]
            self.outcomes["withdrawn"] += 1
        elif 400 <= status < 500:
            self.problems.append(f"withdraw {assignment_id}: {status} {describe(data)}")


def run_load(args: argparse.Namespace, port: int, seeded: Seeded) -> tuple[list[Client], float]:
    rng = random.Random(args.seed)
    clients = [
        Client(
            port=port,
            sessions=seeded.sessions,
            roles=seeded.roles,
            volunteers=seeded.volunteers[i :: args.clients],
            withdraw_share=args.withdraw,
            rng=random.Random(rng.getrandbits(64)),
        )
        for i in range(args.clients)
    ]
    budget = Budget(args.requests, args.duration)
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
    return clients, time.perf_counter() - started


# --- report ----------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def latency_line(label: str, values: list[float]) -> str:
    values = sorted(values)
    p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
    return (
        f"  {label:<9} n={len(values):<6} p50={p50:7.1f} ms  p95={p95:7.1f} ms  "
        f"p99={p99:7.1f} ms  max={values[-1] if values else float('nan'):7.1f} ms"
    )


def report_load(args: argparse.Namespace, clients: list[Client], elapsed: float) -> bool:
    samples = [s for c in clients for s in c.samples]
    statuses = Counter(label for _, label, _ in samples)
    outcomes = sum((c.outcomes for c in clients), Counter())
    signups = [s for s in samples if s[0] == "signup"]
    signed = sum(1 for _, label, _ in signups if label == "201")
    print(f"clients: {args.clients}  gunicorn sync workers: {args.workers}")
    print(f"requests: {len(samples)} in {elapsed:.1f} s ({len(samples) / elapsed:.1f} req/s)")
    print(
        f"sign-ups: {signed} accepted ({signed / elapsed:.1f} sign-ups/s): "
        f"{outcomes['confirmed']} confirmed, {outcomes['waitlisted']} waitlisted; "
        f"withdrawals: {outcomes['withdrawn']}"
    )
    print("latency:")
    print(latency_line("all", [ms for _, _, ms in samples]))
    print(latency_line("sign-up", [ms for _, _, ms in signups]))
    print(latency_line("withdraw", [ms for kind, _, ms in samples if kind == "withdraw"]))
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    server_errors = sum(v for k, v in statuses.items() if k.startswith("5"))
    transport_errors = sum(v for k, v in statuses.items() if k.startswith("error"))
    print(f"5xx: {server_errors}  transport errors: {transport_errors}")
    # Every request is valid (own bookings, sessions not yet booked, no clashes): any 4xx
    # is a refusal the rules do not explain.
    problems = [p for c in clients for p in c.problems]
    print(f"unexpected 4xx: {len(problems)}")
    for problem in problems[:10]:
        print(f"  {problem}")
    return server_errors == 0 and transport_errors == 0 and not problems


def report_server_log(log_path: Path) -> None:
    """Warnings and errors the app logged (e.g. which constraint turned into a 409)."""
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    found = Counter(
        line.split(" ", 2)[-1] for line in lines if " WARNING " in line or " ERROR " in line
    )
    print(f"server log warnings/errors: {sum(found.values())}")
    for message, count in found.most_common(10):
        print(f"  {count} x {message[:200]}")


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


def check_database(database: str, clients: list[Client]) -> bool:
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/{database}") as conn:
        roles = conn.execute(ROLE_STATE).fetchall()
        doubles = conn.execute(DOUBLE_BOOKINGS).fetchall()
        live = conn.execute(
            "SELECT count(*) FROM assignments WHERE status = ANY(%s)", [list(LIVE)]
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
    client_live = sum(len(b) for c in clients for b in c.live.values())
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


# --- main ------------------------------------------------------------------------------


def _terminate(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    background = os.getloadavg()[0]
    signal.signal(signal.SIGTERM, _terminate)
    database = f"squads_bench_{os.getpid()}"
    server = None
    ok = False
    with tempfile.TemporaryDirectory(prefix="squads-bench-") as tmp:
        env = bench_environment(database, tmp)
        log_path = Path(tmp) / "gunicorn.log"
        created = False
        try:
            create_database(database)
            created = True
            print(f"database {database}: migrating and seeding", flush=True)
            migrate(env)
            os.environ.update(env)  # before seed() imports config
            started = time.perf_counter()
            seeded = seed(args)
            print(
                f"seeded {len(seeded.sessions)} sessions (helper {args.seats} + greeter "
                f"{GREETER_SEATS} seats), {len(seeded.volunteers)} volunteers in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            port = free_port()
            # Kept in `server` before waiting, so an interrupt during start-up stops it too.
            server = start_server(env, args.workers, port, log_path)
            wait_ready(server, port, log_path)
            print(
                f"gunicorn on {HOST}:{port}; {args.clients} clients, up to {args.requests} "
                f"requests or {args.duration:.0f} s, {args.withdraw:.0%} withdrawals",
                flush=True,
            )
            clients, elapsed = run_load(args, port, seeded)
            print(
                f"\nmachine: {os.cpu_count()} CPUs; 1-min load average {background:.2f} before "
                "the bench started (anything above 0 shares the CPUs with it)"
            )
            load_ok = report_load(args, clients, elapsed)
            stop_server(server)  # let in-flight work finish before counting
            report_server_log(log_path)
            ok = check_database(database, clients) and load_ok
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
        except subprocess.CalledProcessError as exc:
            print(f"{' '.join(exc.cmd)} failed:\n{exc.stderr}", file=sys.stderr)
        finally:
            cleanup(server, database if created else None)
    print("result: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def cleanup(server: subprocess.Popen | None, database: str | None) -> None:
    """Each step on its own, so one failure does not leave the others undone; a second
    Ctrl-C or SIGTERM meanwhile is ignored."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    steps = [
        ("stop gunicorn", lambda: server and stop_server(server)),
        ("drop database", lambda: database and drop_database(database)),
        ("flush redis db 9", lambda: redis.Redis.from_url(REDIS_URL).flushdb()),
    ]
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # report and go on with the next step
            print(f"cleanup: {name} failed: {exc}", file=sys.stderr)
    for sig, handler in previous.items():
        signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
