"""Benchmark of the calendar feeds (issue 5): a ward feed of 1,000 events.

Prints the cold render time (one query + icalendar rendering), then, with `wrk` against
gunicorn (2 sync workers, 127.0.0.1 only), requests per second for
  (a) a full 200 answered from the Redis cache, gzipped (Accept-Encoding: gzip, as every
      calendar client sends it),
  (a') the same for a client that does not accept gzip (unzipped by the app),
  (b) a 304 revalidation (If-None-Match),
  (c) a static .ics file of the same size served by the same gunicorn (the ceiling;
      the static server does not compress).
(a) and (c) run interleaved, a c a c ..., `--rounds` times, and the ratio is taken pair
by pair (the machine is shared: its speed drifts within a run). Targets: (a) >= 50% and
(b) >= 80% of (c).

    .venv/bin/python bench/feeds.py [--events 1000] [--duration 10] [--connections 16]
        [--rounds 3] [--redis-url redis://127.0.0.1:6379/12]

Uses a throwaway SQLite database in a temporary folder and the given Redis database
(flushed first). Needs `wrk` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED_PATH = "/calendar/wards/kim_lien.ics"
STATIC_PREFIX = "/bench-static"


def wsgi_app():
    """gunicorn entry point: the app, plus the static ceiling file under /bench-static."""
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    from coordinator import create_app

    app = create_app()
    app.wsgi_app = SharedDataMiddleware(
        app.wsgi_app, {STATIC_PREFIX: os.environ["BENCH_STATIC_DIR"]}, cache=False
    )
    return app


def seed(app, events: int) -> None:
    """Schema, wards, competences and `events` published sessions in one ward."""
    from flask_migrate import upgrade

    from coordinator.competences.operations import import_framework_file
    from coordinator.database import utcnow
    from coordinator.demo import DATA
    from coordinator.extensions import db
    from coordinator.geography.operations import import_wards_file
    from coordinator.sessions.models import TrainingSession

    with app.app_context():
        upgrade()
        import_wards_file(DATA / "wards_dong_da.json")
        import_framework_file()
        start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        for n in range(events):
            begins = start + timedelta(hours=7 * n)
            db.session.add(
                TrainingSession(
                    title=f"Kỹ năng số cho người dân — buổi {n + 1}: VNeID, dịch vụ công",
                    description="Thực hành trên điện thoại; mang theo CCCD.\nCó hỗ trợ viên.",
                    competence_area="1",
                    target_group="residents",
                    ward="kim_lien",
                    venue=f"Nhà văn hóa tổ dân phố số {n % 40 + 1}, phường Kim Liên",
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=2),
                    capacity=30,
                )
            )
        db.session.commit()


def cold_render(app, rounds: int = 5) -> dict:
    """Median seconds for the one query, the rendering, and the bytes' size."""
    from coordinator.calendar import feeds, queries

    query_times, render_times, size = [], [], 0
    with app.app_context():
        for _ in range(rounds):
            began = time.perf_counter()
            feed = queries.ward_feed("kim_lien")
            queried = time.perf_counter()
            body = feeds.render(feed)
            query_times.append(queried - began)
            render_times.append(time.perf_counter() - queried)
            size = len(body)
        assert len(feed.events) > 0
    return {
        "events": len(feed.events),
        "query_s": statistics.median(query_times),
        "render_s": statistics.median(render_times),
        "bytes": size,
        "body": body,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(url: str, duration: int, connections: int, headers: list[str] = ()) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses on {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": "bench-only",
        "COORDINATOR_INSTANCE_PATH": str(workdir),
        "BENCH_STATIC_DIR": str(workdir / "static"),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
    }
    os.environ.update(env)
    sys.path[:0] = [str(ROOT)]
    import redis

    from coordinator import create_app

    redis.Redis.from_url(args.redis_url).flushdb()
    app = create_app()
    seed(app, args.events)
    cold = cold_render(app)
    (workdir / "static").mkdir()
    (workdir / "static" / "same-size.ics").write_bytes(cold.pop("body"))
    print(
        f"cold render of {cold['events']} events ({cold['bytes']:,} bytes): "
        f"query {cold['query_s'] * 1000:.1f} ms + render {cold['render_s'] * 1000:.1f} ms"
    )

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "feeds:wsgi_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + FEED_PATH) as response:
                    etag = response.headers["ETag"]
                    assert len(response.read()) == cold["bytes"]
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        gz = ["Accept-Encoding: gzip"]
        static = base + f"{STATIC_PREFIX}/same-size.ics"
        pairs = []
        for _ in range(args.rounds):  # a c a c ...: pairs see the same machine
            pairs.append(
                (
                    wrk(base + FEED_PATH, args.duration, args.connections, gz),
                    wrk(static, args.duration, args.connections),
                )
            )
        results = {
            "a": statistics.median(a for a, _ in pairs),
            "a_plain": wrk(base + FEED_PATH, args.duration, args.connections),
            "b": wrk(base + FEED_PATH, args.duration, args.connections, [f"If-None-Match: {etag}"]),
            "c": statistics.median(c for _, c in pairs),
        }
        ratio = statistics.median(a / c for a, c in pairs)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    ceiling = results["c"]
    print(
        f"(a) 200 from cache, gzip: {results['a']:8.0f} req/s  {ratio:6.1%} of (c), "
        f"median of {args.rounds} interleaved pairs: "
        + ", ".join(f"{a:.0f}/{c:.0f}" for a, c in pairs)
    )
    print(
        f"(a') 200, no gzip:    {results['a_plain']:8.0f} req/s  "
        f"{results['a_plain'] / ceiling:6.1%} of (c)"
    )
    print(f"(b) 304 revalidation: {results['b']:8.0f} req/s  {results['b'] / ceiling:6.1%} of (c)")
    print(f"(c) static .ics:      {ceiling:8.0f} req/s")
    print(
        "targets: (a) >= 50%: "
        + ("met" if ratio >= 0.5 else "NOT met")
        + ", (b) >= 80%: "
        + ("met" if results["b"] >= 0.8 * ceiling else "NOT met")
    )


if __name__ == "__main__":
    main()
