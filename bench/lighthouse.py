"""Lighthouse (npm lighthouse@12.2.3, mobile, with Debian's Chromium) on the main pages of
a throwaway demo: home, a session, a ward, login, register, the organizer's dashboard and
a session's check-in page (logged in as the demo's organizer, its cookie handed to
Lighthouse). Prints a Markdown table of the four category scores.

    .venv/bin/python bench/lighthouse.py [--port 5790] [--runs 1]

Starts `scripts/run --demo` (SQLite, embedded Redis) in a temporary instance folder and
stops it at the end. Needs Node.js (npx) and /usr/bin/chromium."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
ORGANIZER = ("organizer@demo.squads.vn", "to-chuc-demo-2026")


def wait_for(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not answer")


def log_in(base: str) -> str:
    """The Cookie header of a page login as the demo's organizer."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    email, password = ORGANIZER
    body = urlencode({"csrf_token": token, "email": email, "password": password}).encode()
    opener.open(f"{base}/login", data=body)
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def first_session(base: str) -> int:
    data = json.dumps({"email": ORGANIZER[0], "password": ORGANIZER[1]}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/auth/tokens", data=data, headers={"Content-Type": "application/json"}
    )
    token = json.load(urllib.request.urlopen(request))["token"]
    listing = urllib.request.Request(
        f"{base}/api/v1/sessions?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    found = json.load(urllib.request.urlopen(listing))
    items = found["items"] if isinstance(found, dict) else found
    return items[0]["id"]


def lighthouse(url: str, out: Path, cookie: str | None) -> dict[str, int]:
    command = [
        "npx", "--yes", "lighthouse@12.2.3", url,
        "--chrome-path=/usr/bin/chromium",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json", f"--output-path={out}", "--quiet",
    ]  # fmt: skip
    if cookie:
        command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    env = {**os.environ, "CHROME_PATH": "/usr/bin/chromium"}
    subprocess.run(command, check=True, timeout=300, env=env)
    report = json.loads(out.read_text())
    return {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5790)
    parser.add_argument("--runs", type=int, default=1, help="median of this many runs")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="squads-lighthouse-") as folder:
        env = {
            **os.environ,
            "COORDINATOR_INSTANCE_PATH": folder,
            "BIND": f"127.0.0.1:{args.port}",
            "RATELIMIT_ENABLED": "false",
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        server = subprocess.Popen(
            ["scripts/run", "--demo"], cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(Path(folder) / "run.log", "w"),
        )  # fmt: skip
        try:
            wait_for(f"{base}/healthz")
            cookie = log_in(base)
            session = first_session(base)
            pages = [
                ("home", "/", None),
                ("session", f"/sessions/{session}", None),
                ("ward", "/wards/kim_lien", None),
                ("login", "/login", None),
                ("register", "/register", None),
                ("dashboard", "/organize/", cookie),
                ("check-in", f"/checkin/{session}", cookie),
            ]
            print("| page | " + " | ".join(CATEGORIES) + " |")
            print("|---|" + "---:|" * len(CATEGORIES))
            for name, path, auth in pages:
                runs = [
                    lighthouse(f"{base}{path}", Path(folder) / f"{name}-{i}.json", auth)
                    for i in range(args.runs)
                ]
                scores = [statistics.median(r[c] for r in runs) for c in CATEGORIES]
                print(f"| {name} | " + " | ".join(f"{s:.0f}" for s in scores) + " |", flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
