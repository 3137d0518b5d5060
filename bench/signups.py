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
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402  (the bench folder is not a package)
    GREETER_SEATS,
    HOST,
    Booker,
    Budget,
    Seeded,
    bench_environment,
    check_database,
    cleanup,
    create_database,
    drop_database,
    free_port,
    latency_line,
    migrate,
    report_server_log,
    run_threads,
    seed,
    start_server,
    stop_server,
    terminate_on_sigterm,
    wait_ready,
)

REDIS_URL = f"redis://{HOST}:6379/9"


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


# --- load ------------------------------------------------------------------------------


class Client(Booker):
    """One simulated user agent: sign-ups and withdrawals only."""

    def run(self, budget: Budget) -> None:
        while budget.take():
            self.book_or_withdraw()


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
    elapsed = run_threads(clients, Budget(args.requests, args.duration))
    return clients, elapsed


# --- report ----------------------------------------------------------------------------


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


# --- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    background = os.getloadavg()[0]
    terminate_on_sigterm()
    database = f"squads_bench_{os.getpid()}"
    server = None
    ok = False
    with tempfile.TemporaryDirectory(prefix="squads-bench-") as tmp:
        env = bench_environment(database, tmp, REDIS_URL)
        log_path = Path(tmp) / "gunicorn.log"
        created = False
        try:
            create_database(database)
            created = True
            print(f"database {database}: migrating and seeding", flush=True)
            migrate(env)
            os.environ.update(env)  # before seed() imports config
            started = time.perf_counter()
            seeded = seed(args.sessions, args.seats, args.volunteers)
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
            client_live = sum(len(b) for c in clients for b in c.live.values())
            ok = check_database(database, client_live) and load_ok
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
        except subprocess.CalledProcessError as exc:
            print(f"{' '.join(exc.cmd)} failed:\n{exc.stderr}", file=sys.stderr)
        finally:
            cleanup(
                [
                    ("stop gunicorn", lambda: server and stop_server(server)),
                    ("drop database", lambda: created and drop_database(database)),
                    ("flush redis db 9", lambda: redis.Redis.from_url(REDIS_URL).flushdb()),
                ]
            )
    print("result: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
