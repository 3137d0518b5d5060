"""Mixed load on the whole service: pages, API, feeds, sign-ups, and the events behind them.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/load.py --users 50 --duration 60

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on
127.0.0.1:6379. What it does:

1. creates a throwaway database `squads_bench_<pid>`, applies the migrations and seeds
   through the app's own operations (bench/_harness.py, as bench/signups.py does):
   `--sessions` sessions taking turns in Kim Liên and its neighbour Phương Mai, at
   non-overlapping times three days ahead, each with `helper` (`--seats`) and `greeter`
   (2) roles; `--volunteers` volunteers with bearer tokens and private feed tokens; and
   `--squads` squads of four of them;
2. counts the seed's events as processed (the seed stands for data that was there
   before; every event counted afterwards is the load's own), then starts the
   production set of processes on loopback, all with one environment (Redis db 10):
   `gunicorn -w 2` (`--workers`) and two `flask --app wsgi worker` (`--rq-workers`;
   queues default, matching and notifications, with RQ's scheduler and the outbox
   sweep). The outbox relay needs no process of its own: each web request relays its
   events after its commit, the workers sweep up what that missed;
3. lets each of `--users` threads fetch one ward, squad and private feed (not timed,
   as a calendar app that subscribed earlier), then runs them for `--duration`
   seconds, each picking its next request by weight: 70% reads (home page, session,
   ward and squad pages, the session list, a session, its staffing, and one of its own
   volunteers' bookings, which must be exactly the live ones the thread made), 20%
   calendar feeds (ward, squad and private volunteer feeds; half of them conditional,
   with If-None-Match from the thread's earlier answer for a feed of that kind:
   304, or 200 when the feed changed meanwhile), and 10% sign-ups and withdrawals
   (`--withdraw` of them withdrawals) of its own volunteers. Every request is valid,
   so its status is known in advance: anything else is an error;
4. prints throughput, p50/p95/p99/max latency overall, per category (read, feed,
   conditional feed, write) and per request kind, status counts and the errors;
5. after the load: stops gunicorn, waits (up to `--drain` seconds) until every event
   written is enqueued and processed, the queues are empty and no job is running, then
   reports events written and processed, RQ's finished, failed and scheduled jobs per
   queue, and the warnings, errors and tracebacks in the gunicorn and worker logs;
6. checks the database as bench/signups.py does: no overbooking (per role
   confirmed+proposed <= count), `taken` equal to it, waitlists 1..n, no free seat
   while someone waits, nobody twice in a session, live bookings equal to the clients';
7. stops gunicorn and the workers (process groups), copies their logs to `--logs` if
   given, drops the database and flushes Redis db 10, also on Ctrl-C, SIGTERM or errors
   (it refuses to start when Redis db 10 is not empty).

With --workers-elsewhere the RQ workers start only once the load is over (step 5): the
web's throughput when its workers run on other nodes (docs/scaling.md).

The exit status is 0 only with no error (no unexpected status, no transport error, no
wrong answer), every event processed, no failed job, no traceback in the logs and every
database check met.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from rq import Queue, Worker
from rq.job import Job

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402  (the bench folder is not a package)
    GREETER_SEATS,
    HOST,
    LIVE,
    WARD,
    Booker,
    Budget,
    Reply,
    Seeded,
    bench_environment,
    check_database,
    cleanup,
    create_database,
    database_dsn,
    drop_database,
    executable,
    fetch,
    free_port,
    latency_line,
    migrate,
    report_server_log,
    run_threads,
    seed,
    start_process,
    start_server,
    stop_process,
    tail,
    terminate_on_sigterm,
    wait_ready,
)

REDIS_URL = f"redis://{HOST}:6379/10"
WARDS = (WARD, "phuong_mai")  # neighbours: no travel time between their sessions
QUEUES = ("feeds", "default", "matching", "notifications")  # config.RQ_QUEUES

# Request kinds with their share of all requests in percent, by category.
MIX = {
    "read": {
        "page:home": 6,
        "page:session": 14,
        "page:ward": 8,
        "page:squad": 4,
        "api:sessions": 8,
        "api:session": 10,
        "api:staffing": 8,
        "api:bookings": 12,
    },
    "feed": {"feed:ward": 5, "feed:squad": 1, "feed:volunteer": 4},
    # Revalidates one of the feeds this user fetched before: "cond:ward", ...
    "cond": {"cond": 10},
    "write": {"write": 10},  # a sign-up or a withdrawal: samples "signup", "withdraw"
}
FEED_TARGETS = ("ward", "squad", "volunteer")
FEED_WEIGHTS = [MIX["feed"][f"feed:{target}"] for target in FEED_TARGETS]
CATEGORY = {kind: category for category, kinds in MIX.items() for kind in kinds}
CATEGORY.update(signup="write", withdraw="write")
CATEGORY.update({f"cond:{target}": "cond" for target in FEED_TARGETS})
CATEGORY_NAMES = {
    "read": "reads",
    "feed": "feeds",
    "cond": "conditional feeds",
    "write": "sign-ups and withdrawals",
}
EXPECTED = {"signup": {"201"}, "withdraw": {"200"}}
EXPECTED.update({f"cond:{target}": {"200", "304"} for target in FEED_TARGETS})
HTML = {"Accept": "text/html"}
ICS = {"Accept": "text/calendar"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent users (50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument(
        "--volunteers", type=int, default=None, help="volunteers (default: 4 per user)"
    )
    # Few seats, so that sign-ups fill them within the run and waitlists form.
    parser.add_argument("--sessions", type=int, default=20, help="sessions (20)")
    parser.add_argument("--seats", type=int, default=2, help="helper seats per session (2)")
    parser.add_argument("--squads", type=int, default=10, help="squads of four (10)")
    parser.add_argument(
        "--withdraw", type=float, default=0.3, help="share of withdrawals among writes (0.3)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--rq-workers", type=int, default=2, help="RQ worker processes (2)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker: more than 1 runs the gthread worker class (1: sync)",
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for the events (60)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    parser.add_argument(
        "--logs", type=Path, default=None, help="copy the gunicorn and worker logs here"
    )
    parser.add_argument(
        "--template",
        default=None,
        help="run on a copy of this database, kept by `bench/scale.py --keep` (a city): "
        "the bench's sessions, volunteers and squads go into two neighbouring units of it",
    )
    parser.add_argument(
        "--unplanned",
        action="store_true",
        help="with --template: remove the copy's matching plan (proposals, runs, events) "
        "first, so that the load's first withdrawal has the city's month planned from "
        "nothing within the load (the first publish's storm; default: the steady state "
        "of a city whose plan exists, as `scale.py --keep` leaves it)",
    )
    parser.add_argument(
        "--workers-elsewhere",
        action="store_true",
        help="start the RQ workers only once the load is over, for the drain: the web's "
        "throughput with its workers on other nodes (docs/scaling.md), their events "
        "still processed and checked afterwards",
    )
    parser.add_argument(
        "--redis-url", default=REDIS_URL, help=f"an empty Redis database ({REDIS_URL})"
    )
    args = parser.parse_args(argv)
    args.volunteers = args.volunteers or 4 * args.users
    if args.users < 1 or args.volunteers < args.users:
        parser.error("need at least one user and one volunteer per user")
    if args.duration <= 0 or args.drain <= 0 or not 0 <= args.withdraw < 1:
        parser.error("--duration and --drain must be positive, --withdraw in [0, 1)")
    if args.unplanned and not args.template:
        parser.error("--unplanned needs --template (a kept city)")
    if args.workers < 1 or args.rq_workers < 1:
        parser.error("need at least one gunicorn worker and one RQ worker")
    return args


# --- load ------------------------------------------------------------------------------


@dataclass
class User(Booker):
    """One simulated user agent: browses, fetches feeds, and books its own volunteers."""

    wards: list[str] = field(default_factory=list)
    squads: list[int] = field(default_factory=list)
    feed_tokens: dict[int, str] = field(default_factory=dict)  # its volunteers' tokens
    etags: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> target, ETag
    conditional: Counter = field(default_factory=Counter)  # "not modified" / "changed"
    wrong: list[str] = field(default_factory=list)  # expected status, wrong content

    def run(self, budget: Budget) -> None:
        kinds = [kind for kinds in MIX.values() for kind in kinds]
        weights = [weight for kinds in MIX.values() for weight in kinds.values()]
        while budget.take():
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "write":
                self.book_or_withdraw()
            elif kind.startswith("page:"):
                self.page(kind)
            elif kind.startswith("api:"):
                self.api(kind)
            else:
                self.feed(kind)

    def expect(self, kind: str, path: str, reply: Reply, statuses: set[int]) -> bool:
        """Whether the status is one of `statuses`; the body of an unexpected 4xx is kept
        (every unexpected status is counted from the samples; 5xx are in the server log)."""
        if 400 <= reply.status < 500 and reply.status not in statuses:
            detail = reply.body[:160].decode(errors="replace")
            self.problems.append(f"{kind} {path}: {reply.status} {detail}")
        return reply.status in statuses

    def page(self, kind: str) -> None:
        choice = self.rng.choice
        path = {
            "page:home": lambda: "/",
            "page:session": lambda: f"/sessions/{choice(self.sessions)}",
            "page:ward": lambda: f"/wards/{choice(self.wards)}",
            "page:squad": lambda: f"/squads/{choice(self.squads)}",
        }[kind]()
        reply = self.timed(kind, "GET", path, headers=HTML)
        if self.expect(kind, path, reply, {200}) and b"</html>" not in reply.body:
            self.wrong.append(f"{kind} {path}: 200 without a page")

    def api(self, kind: str) -> None:
        session = self.rng.choice(self.sessions)
        if kind == "api:bookings":
            self.own_bookings()
            return
        path = {
            "api:sessions": f"/api/v1/sessions?ward={self.rng.choice(self.wards)}",
            "api:session": f"/api/v1/sessions/{session}",
            "api:staffing": f"/api/v1/sessions/{session}/staffing",
        }[kind]
        reply = self.timed(kind, "GET", path)
        if self.expect(kind, path, reply, {200}) and reply.json() is None:
            self.wrong.append(f"{kind} {path}: 200 without JSON")

    def own_bookings(self) -> None:
        """A volunteer's bookings must be exactly the live ones this user made."""
        volunteer_id, token = self.rng.choice(self.volunteers)
        path = f"/api/v1/volunteers/{volunteer_id}/assignments"
        reply = self.timed("api:bookings", "GET", path, token=token)
        if not self.expect("api:bookings", path, reply, {200}):
            return
        rows = reply.json() if isinstance(reply.json(), list) else []
        live = {row["id"] for row in rows if row.get("status") in LIVE}
        mine = set(self.live.get(volunteer_id, {}).values())
        if live != mine:
            self.wrong.append(
                f"api:bookings {path}: live {sorted(live)}, this user made {sorted(mine)}"
            )

    def feed_path(self, target: str) -> str:
        if target == "ward":
            return f"/calendar/wards/{self.rng.choice(self.wards)}.ics"
        if target == "squad":
            return f"/calendar/squads/{self.rng.choice(self.squads)}.ics"
        volunteer_id, _ = self.rng.choice(self.volunteers)
        return f"/calendar/v/{self.feed_tokens[volunteer_id]}.ics"

    def prime(self) -> None:
        """Before the clock starts: one feed of each kind fetched, as a calendar app
        subscribed earlier would have, so conditional fetches have an ETag to send."""
        for target in FEED_TARGETS:
            path = self.feed_path(target)
            try:
                reply = fetch(self.port, "GET", path, headers=ICS)
            except (OSError, http.client.HTTPException) as exc:
                reply = Reply(0, {}, str(exc).encode())
            if reply.status == 200 and reply.headers.get("etag"):
                self.etags[path] = (target, reply.headers["etag"])
            else:
                self.wrong.append(f"priming feed:{target}: {reply.status} (or no ETag)")

    def feed(self, kind: str) -> None:
        """A feed; a conditional fetch revalidates the ETag of a feed of the same kind
        this user fetched before (without one, the fetch is a plain one)."""
        etag = None
        if kind == "cond":
            target = self.rng.choices(FEED_TARGETS, FEED_WEIGHTS)[0]
            known = sorted(p for p, (t, _) in self.etags.items() if t == target)
            if known:
                path = self.rng.choice(known)
                etag, kind = self.etags[path][1], f"cond:{target}"
            else:
                kind = f"feed:{target}"
        target = kind.split(":")[1]
        if etag is None:
            path = self.feed_path(target)
        headers = {**ICS, "If-None-Match": etag} if etag else ICS
        reply = self.timed(kind, "GET", path, headers=headers)
        shown = path if target != "volunteer" else "/calendar/v/<token>.ics"
        if not self.expect(kind, shown, reply, {200, 304} if etag else {200}):
            return
        if not reply.headers.get("etag"):
            self.wrong.append(f"{kind} {shown}: {reply.status} without an ETag")
            return
        if reply.status == 200 and not reply.body.startswith(b"BEGIN:VCALENDAR"):
            self.wrong.append(f"{kind} {shown}: 200 without a calendar")
        if reply.status == 304 and reply.headers["etag"] != etag:
            self.wrong.append(f"{kind} {shown}: 304 with another ETag")
        if etag:
            self.conditional["not modified" if reply.status == 304 else "changed"] += 1
        self.etags[path] = (target, reply.headers["etag"])


def run_load(args: argparse.Namespace, port: int, seeded: Seeded) -> tuple[list[User], float]:
    rng = random.Random(args.seed)
    users = []
    for i in range(args.users):
        volunteers = seeded.volunteers[i :: args.users]
        users.append(
            User(
                port=port,
                sessions=seeded.sessions,
                roles=seeded.roles,
                volunteers=volunteers,
                withdraw_share=args.withdraw,
                rng=random.Random(rng.getrandbits(64)),
                wards=seeded.wards,
                squads=seeded.squads,
                feed_tokens={v: seeded.feed_tokens[v] for v, _ in volunteers},
            )
        )
    with ThreadPoolExecutor(max_workers=args.users) as pool:
        list(pool.map(User.prime, users))
    elapsed = run_threads(users, Budget(float("inf"), args.duration))
    return users, elapsed


# --- where the CPU goes ----------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_cpu(root: int, tree: dict[int, list[int]]) -> dict[int, float]:
    """CPU seconds (user + system) of a process and its live descendants, per pid, each
    with the children it reaped (RQ's work-horses, gunicorn's dead workers)."""
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        found[pid] = sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
        todo.extend(tree.get(pid, []))
    return found


def machine_cpu() -> float:
    """CPU seconds every process of the machine has used (busy time of /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICK


@dataclass
class CpuSnapshot:
    gunicorn: dict[int, float]
    workers: dict[int, float]
    postgres: dict[int, float]
    redis: float
    client: float
    machine: float
    wall: float


def cpu_snapshot(
    server: subprocess.Popen, workers: list[subprocess.Popen], database: str, client: redis.Redis
) -> CpuSnapshot:
    tree = _children()
    with psycopg.connect(database_dsn(database)) as conn:
        backends = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )]  # fmt: skip
    info = client.info("cpu")
    times = os.times()
    return CpuSnapshot(
        gunicorn=tree_cpu(server.pid, tree),
        workers={k: v for w in workers for k, v in tree_cpu(w.pid, tree).items()},
        postgres={pid: sum(tree_cpu(pid, {}).values()) for pid in backends},
        redis=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        client=times.user + times.system,
        machine=machine_cpu(),
        wall=time.perf_counter(),
    )


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by these processes (new ones count whole)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def report_cpu(before: CpuSnapshot, after: CpuSnapshot, requests: int) -> None:
    """Where the machine's CPU went during the load, and the web's CPU per request."""
    wall = after.wall - before.wall
    parts = {
        "gunicorn (master + workers)": _grown(before.gunicorn, after.gunicorn),
        "RQ workers (and their horses)": _grown(before.workers, after.workers),
        "PostgreSQL backends of this database (sampled at the end)": _grown(
            before.postgres, after.postgres
        ),
        "Redis server (all its clients)": after.redis - before.redis,
        "this load generator (client threads)": after.client - before.client,
    }
    total = after.machine - before.machine
    parts["the rest of the machine (other sessions, PostgreSQL's own processes)"] = max(
        total - sum(parts.values()), 0.0
    )
    cores = os.cpu_count() or 1
    print(f"\nCPU during the load ({wall:.1f} s x {cores} cores = {wall * cores:.0f} core-s; "
          f"busy {total:.1f} core-s, {100 * total / (wall * cores):.0f}%):")  # fmt: skip
    for name, seconds in parts.items():
        print(f"  {name:<70} {seconds:7.1f} s  {100 * seconds / (wall * cores):4.0f}%")
    web = parts["gunicorn (master + workers)"]
    database = parts["PostgreSQL backends of this database (sampled at the end)"]
    n = max(requests, 1)
    print(f"  per request: gunicorn {1000 * web / n:.1f} ms, its PostgreSQL backends "
          f"{1000 * database / n:.1f} ms; on {cores} cores for them alone: "
          f"{n * cores / max(web + database, 1e-9):.0f} req/s")  # fmt: skip


# --- report ----------------------------------------------------------------------------


def report_load(args: argparse.Namespace, users: list[User], elapsed: float) -> int:
    """Print the figures; return the number of errors."""
    samples = [s for u in users for s in u.samples]
    statuses = Counter(label for _, label, _ in samples)
    outcomes = sum((u.outcomes for u in users), Counter())
    conditional = sum((u.conditional for u in users), Counter())
    by_category = Counter(CATEGORY[kind] for kind, _, _ in samples)
    print(
        f"users: {args.users}  gunicorn workers: {args.workers} "
        f"({'gthread x ' + str(args.threads) if args.threads > 1 else 'sync'})  "
        f"RQ workers: {args.rq_workers}"
    )
    print(f"requests: {len(samples)} in {elapsed:.1f} s ({len(samples) / elapsed:.1f} req/s)")
    print(
        "mix: "
        + ", ".join(
            f"{CATEGORY_NAMES[c]} {by_category[c]} ({by_category[c] / max(len(samples), 1):.1%})"
            for c in MIX
        )
    )
    signed = outcomes["confirmed"] + outcomes["waitlisted"]
    print(
        f"sign-ups: {signed} accepted ({outcomes['confirmed']} confirmed, "
        f"{outcomes['waitlisted']} waitlisted); withdrawals: {outcomes['withdrawn']}; "
        f"conditional feeds: {conditional['not modified']} not modified (304), "
        f"{conditional['changed']} changed meanwhile (200)"
    )
    print("latency:")
    print(latency_line("all", [ms for _, _, ms in samples], 14))
    for category in MIX:
        values = [ms for kind, _, ms in samples if CATEGORY[kind] == category]
        print(latency_line(category, values, 14))
    print("latency by request kind:")
    for kind in sorted({kind for kind, _, _ in samples}):
        print(latency_line(kind, [ms for k, _, ms in samples if k == kind], 14))
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    unexpected = Counter(
        (kind, label) for kind, label, _ in samples if label not in EXPECTED.get(kind, {"200"})
    )
    wrong = [w for u in users for w in u.wrong]
    details = [p for u in users for p in u.problems] + wrong
    errors = sum(unexpected.values()) + len(wrong)
    print(
        f"errors: {errors} (unexpected statuses: {sum(unexpected.values())}, of which 5xx "
        f"{sum(v for k, v in statuses.items() if k.startswith('5'))} and transport errors "
        f"{sum(v for k, v in statuses.items() if k.startswith('error'))}; "
        f"wrong answers: {len(wrong)})"
    )
    for (kind, label), count in unexpected.most_common(10):
        print(f"  {count} x {kind} answered {label}")
    for detail in details[:10]:
        print(f"  {detail}")
    return errors


# --- events and jobs -------------------------------------------------------------------

EVENT_STATE = """
SELECT count(*),
       count(*) FILTER (WHERE enqueued_at IS NULL),
       count(*) FILTER (WHERE processed_at IS NULL),
       coalesce(max(id), 0)
FROM domain_events
WHERE id > %s
"""

EVENT_TYPES = """
SELECT type, count(*), count(processed_at),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY processed_at - occurred_at),
       max(processed_at - occurred_at)
FROM domain_events
WHERE id > %s
GROUP BY type
ORDER BY count(*) DESC, type
"""

# From commit to processed: the relay, the queue, the handlers (and a debounce's wait).
EVENT_LAG = """
SELECT percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag), max(lag)
FROM (SELECT extract(epoch FROM processed_at - occurred_at) AS lag
      FROM domain_events
      WHERE id > %s AND processed_at IS NOT NULL) AS processed
"""


@dataclass
class Backlog:
    written: int
    unsent: int
    unprocessed: int
    last_id: int
    queues: dict[str, dict[str, int]]

    @property
    def busy(self) -> bool:
        """Events not yet enqueued or processed, jobs waiting, running or due."""
        jobs = ("queued", "started", "due", "deferred")
        return bool(
            self.unsent
            or self.unprocessed
            or any(q[name] for q in self.queues.values() for name in jobs)
        )


def backlog(database: str, client: redis.Redis, after_id: int) -> Backlog:
    with psycopg.connect(database_dsn(database)) as conn:
        written, unsent, unprocessed, last_id = conn.execute(EVENT_STATE, [after_id]).fetchone()
    queues = {}
    for name in QUEUES:
        queue = Queue(name, connection=client)
        scheduled = queue.scheduled_job_registry
        queues[name] = {
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "deferred": queue.deferred_job_registry.count,
            "due": len(scheduled.get_jobs_to_schedule(int(time.time()))),
            "scheduled": scheduled.count,
            "finished": queue.finished_job_registry.count,
            "failed": queue.failed_job_registry.count,
        }
    return Backlog(written, unsent, unprocessed, last_id, queues)


def drain(database: str, client: redis.Redis, after_id: int, seconds: float) -> Backlog:
    """Wait until the events after `after_id` are processed and no job waits or runs."""
    deadline = time.monotonic() + seconds
    while True:
        state = backlog(database, client, after_id)
        if not state.busy or time.monotonic() >= deadline:
            return state
        time.sleep(0.5)


def neighbouring_units(database: str) -> tuple[str, str]:
    """Two neighbouring units of a copied city (the first unit with a neighbour, by
    code): neighbours have no travel time between their sessions."""
    with psycopg.connect(database_dsn(database)) as conn:
        row = conn.execute(
            "SELECT ward_code, neighbor_code FROM ward_neighbors "
            "ORDER BY ward_code, neighbor_code LIMIT 1"
        ).fetchone()
    if row is None:
        raise RuntimeError(f"{database}: no neighbouring units (not a scale.py database?)")
    return row[0], row[1]


def plan_state(database: str, unplan: bool) -> str:
    """Say whether the copied city has its coming month planned; with `unplan`, remove
    the plan first (scale.py's reset: proposals, runs and events)."""
    from scale import RESET  # the bench folder's own module: one list of what a plan is

    with psycopg.connect(database_dsn(database), autocommit=True) as conn:
        if unplan:
            for statement in RESET:
                conn.execute(statement)
        proposals = conn.execute(
            "SELECT count(*) FROM assignments WHERE source = 'matcher' AND status = 'proposed'"
        ).fetchone()[0]
    if proposals:
        return f"planned ({proposals:,} proposals): the steady state"
    return "not planned: the first withdrawal plans it all within the load (the storm)"


def settle_seed_events(database: str) -> int:
    """The seed stands for data that was there before the run: its events (sessions
    published, volunteers and squads created) count as relayed and processed, so the
    workers start on empty queues and every event counted afterwards is the load's.
    Returns the last seed event's id."""
    with psycopg.connect(database_dsn(database)) as conn:
        conn.execute(
            "UPDATE domain_events SET enqueued_at = now(), processed_at = now() "
            "WHERE processed_at IS NULL"
        )
        return conn.execute("SELECT coalesce(max(id), 0) FROM domain_events").fetchone()[0]


def wait_workers(client: redis.Redis, workers: list[subprocess.Popen], logs: list[Path]) -> None:
    """Until every RQ worker has registered in Redis (30 s at most)."""
    deadline = time.monotonic() + 30
    while len(Worker.all(connection=client)) < len(workers):
        for process, log in zip(workers, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"RQ worker exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"RQ workers did not start in 30 s:\n{tail(logs[0])}")
        time.sleep(0.2)


def seconds(interval) -> str:
    return "-" if interval is None else f"{interval.total_seconds():.2f} s"


def report_events(database: str, client: redis.Redis, after_id: int, state: Backlog) -> bool:
    """Events written since `after_id`, processed, their lag; RQ's jobs. True when every
    event was processed, nothing waits and no job failed."""
    with psycopg.connect(database_dsn(database)) as conn:
        types = conn.execute(EVENT_TYPES, [after_id]).fetchall()
        lags, longest = conn.execute(EVENT_LAG, [after_id]).fetchone()
    processed = sum(row[2] for row in types)
    print(
        f"\nevents written during the load: {state.written}; processed: {processed}; "
        f"not yet enqueued: {state.unsent}; unprocessed: {state.unprocessed}"
    )
    for event_type, count, done, median, longest_lag in types:
        lag = f"  commit to processed p50 {seconds(median)}, max {seconds(longest_lag)}"
        print(f"  {event_type:<26} {count:>5} written {done:>5} processed{lag}")
    if lags:
        p50, p95, p99 = (float(lag) for lag in lags)
        print(
            f"commit to processed: p50={p50:.2f} s  p95={p95:.2f} s  p99={p99:.2f} s  "
            f"max={float(longest):.2f} s"
        )
    failed = 0
    print("RQ jobs per queue (finished, failed, waiting, running, scheduled for later):")
    for name, q in state.queues.items():
        failed += q["failed"]
        print(
            f"  {name:<14} finished {q['finished']:>5}  failed {q['failed']}  "
            f"queued {q['queued'] + q['due'] + q['deferred']}  started {q['started']}  "
            f"scheduled {q['scheduled'] - q['due']}"
        )
        for job_id in Queue(name, connection=client).failed_job_registry.get_job_ids()[:5]:
            job = Job.fetch(job_id, connection=client)
            result = job.latest_result()
            last = (result.exc_string or "").strip().splitlines()[-1:] if result else []
            print(f"    failed {job.description}: {' '.join(last)}")
    print(f"failed jobs: {failed}")
    return not state.busy and failed == 0


def report_logs(paths: dict[str, Path]) -> int:
    """Warnings, errors and the first traceback of each log; returns the tracebacks."""
    tracebacks = 0
    for name, path in paths.items():
        report_server_log(path, name)
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        tracebacks += len(starts)
        if starts:
            print(f"  {len(starts)} tracebacks; the first:")
            print("\n".join(f"    {line}" for line in lines[starts[0] : starts[0] + 40]))
    return tracebacks


def copy_logs(source: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for log in Path(source).glob("*.log"):
        shutil.copy(log, target / log.name)
    print(f"logs in {target}", file=sys.stderr)


# --- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    background = os.getloadavg()
    terminate_on_sigterm()
    database = f"squads_bench_{os.getpid()}"
    client = redis.Redis.from_url(args.redis_url)
    if client.dbsize():
        print(
            f"{args.redis_url} holds {client.dbsize()} keys: another run? (a leftover of an "
            "interrupted one: flush it)",
            file=sys.stderr,
        )
        return 2
    server, workers = None, []
    ok = False
    with tempfile.TemporaryDirectory(prefix="squads-load-") as tmp:
        env = bench_environment(database, tmp, args.redis_url)
        server_log = Path(tmp) / "gunicorn.log"
        worker_logs = [Path(tmp) / f"worker-{i + 1}.log" for i in range(args.rq_workers)]
        created = False
        try:
            started = time.perf_counter()
            create_database(database, args.template)
            created = True
            copied = f" (a copy of {args.template})" if args.template else ""
            print(f"database {database}{copied}: migrating and seeding", flush=True)
            if args.template:
                print(f"the city's coming month: {plan_state(database, args.unplanned)}")
            migrate(env)
            os.environ.update(env)  # before seed() imports config
            wards = neighbouring_units(database) if args.template else WARDS
            seeded = seed(
                args.sessions,
                args.seats,
                args.volunteers,
                wards=wards,
                squads=args.squads,
                feed_tokens=True,
                import_map=not args.template,
            )
            print(
                f"seeded {len(seeded.sessions)} sessions in {', '.join(wards)} (helper "
                f"{args.seats} + greeter {GREETER_SEATS} seats), {len(seeded.volunteers)} "
                f"volunteers with feed tokens, {len(seeded.squads)} squads in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            seed_events = settle_seed_events(database)

            # Kept in `workers` and `server` at once, so an interrupt stops them too.
            def start_workers() -> None:
                for log in worker_logs:
                    argv = [executable("flask"), "--app", "wsgi", "worker"]
                    workers.append(start_process(argv, env, log))
                wait_workers(client, workers, worker_logs)

            if not args.workers_elsewhere:
                start_workers()
            port = free_port()
            if args.threads > 1:
                argv = [executable("gunicorn"), "-w", str(args.workers), "-k", "gthread"]
                argv += ["--threads", str(args.threads), "-b", f"{HOST}:{port}", "wsgi:app"]
                server = start_process(argv, env, server_log)
            else:
                server = start_server(env, args.workers, port, server_log)
            wait_ready(server, port, server_log)
            where = " after the load (elsewhere)" if args.workers_elsewhere else ""
            print(
                f"gunicorn -w {args.workers} on {HOST}:{port}, {args.rq_workers} RQ workers"
                + where,
                flush=True,
            )
            print(
                f"load: {args.users} users for {args.duration:.0f} s, "
                + ", ".join(f"{c} {sum(k.values())}%" for c, k in MIX.items()),
                flush=True,
            )
            cpu_before = cpu_snapshot(server, workers, database, client)
            users, elapsed = run_load(args, port, seeded)
            cpu_after = cpu_snapshot(server, workers, database, client)
            after = os.getloadavg()
            print(
                f"\nmachine: {os.cpu_count()} CPUs; load average {background[0]:.2f} "
                f"{background[1]:.2f} {background[2]:.2f} before the bench started, "
                f"{after[0]:.2f} at the end of the load (shared: anything else running "
                "took CPU from it)"
            )
            errors = report_load(args, users, elapsed)
            report_cpu(cpu_before, cpu_after, sum(len(u.samples) for u in users))
            stop_process(server)  # let in-flight requests and their relays finish
            if args.workers_elsewhere:
                start_workers()
            started = time.perf_counter()
            state = drain(database, client, seed_events, args.drain)
            waited = time.perf_counter() - started
            print(
                f"\nqueues {'still busy' if state.busy else 'drained'} {waited:.1f} s after "
                "the load"
            )
            events_ok = report_events(database, client, seed_events, state)
            for worker in workers:
                stop_process(worker, timeout=30)  # warm shutdown: the current job ends
            print()
            logs = {"gunicorn": server_log}
            logs.update({f"worker {i + 1}": log for i, log in enumerate(worker_logs)})
            tracebacks = report_logs(logs)
            client_live = sum(len(b) for u in users for b in u.live.values())
            database_ok = check_database(
                database, client_live, [v for v, _ in seeded.volunteers] if args.template else None
            )
            ok = errors == 0 and events_ok and tracebacks == 0 and database_ok
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
        except subprocess.CalledProcessError as exc:
            print(f"{' '.join(exc.cmd)} failed:\n{exc.stderr}", file=sys.stderr)
        except RuntimeError as exc:
            print(f"\n{exc}", file=sys.stderr)
        finally:
            cleanup(
                [
                    ("stop gunicorn", lambda: server and stop_process(server)),
                    *(
                        (f"stop RQ worker {i + 1}", lambda w=w: stop_process(w, timeout=30))
                        for i, w in enumerate(workers)
                    ),
                    ("copy the logs", lambda: args.logs and copy_logs(tmp, args.logs)),
                    ("drop database", lambda: created and drop_database(database)),
                    ("flush redis", client.flushdb),
                ]
            )
    print(f"bench took {time.perf_counter() - began:.0f} s in all")
    print("result: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
