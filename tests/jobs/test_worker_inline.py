"""Jobs of WORKER_INLINE_QUEUES run in the worker's own process (no work-horse forked per
job); the other queues' jobs, and the heavy jobs wherever they are, still fork. A job that
times out, raises or calls sys.exit in the worker's process fails alone: the worker goes on
with the next job."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import redis
from rq import Queue, Retry
from rq.command import send_stop_job_command
from rq.job import JobStatus

from coordinator.background import (
    PROCESS_EVENT,
    REFRESH_PROGRESS_COUNTS,
    REPAIR_SEAT,
    RUN_IMPORT,
    RUN_MATCHING,
)
from coordinator.worker import SquadsWorker
from tests.jobs.fault_helpers import WorkerProcess, wait_for, worker_env

JOBS = "tests.jobs.fault_jobs"


def _inline_worker(redis_client, queues=("default",)) -> SquadsWorker:
    worker = SquadsWorker(list(queues), connection=redis_client)
    worker.inline_queues = frozenset({"default"})
    return worker


def test_an_inline_queues_job_runs_in_the_worker_and_a_forking_queues_in_a_horse(
    app, tmp_path, redis_client
):
    inline = Queue("default", connection=redis_client).enqueue(f"{JOBS}.process_id")
    forked = Queue("matching", connection=redis_client).enqueue(f"{JOBS}.process_id")
    env = {**worker_env(app, tmp_path), "WORKER_INLINE_QUEUES": "feeds,default"}
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="default,matching", burst=True)
    try:
        assert worker.process.wait(timeout=60) == 0, worker.log()
    finally:
        worker.stop()
    assert inline.get_status() == JobStatus.FINISHED
    assert forked.get_status() == JobStatus.FINISHED
    assert inline.return_value() == worker.pid
    assert forked.return_value() not in (worker.pid, None)


def test_heavy_jobs_fork_even_on_an_inline_queue(redis_client):
    worker = _inline_worker(redis_client)
    default, matching = SimpleNamespace(name="default"), SimpleNamespace(name="matching")
    assert worker.runs_inline(SimpleNamespace(func_name=PROCESS_EVENT), default)
    assert not worker.runs_inline(SimpleNamespace(func_name=PROCESS_EVENT), matching)
    for heavy in (RUN_IMPORT, REFRESH_PROGRESS_COUNTS):
        assert not worker.runs_inline(SimpleNamespace(func_name=heavy), default)
    # The matching queue inline (as by default): its events' jobs only, not runs, repairs.
    worker.inline_queues = frozenset({"default", "matching"})
    assert worker.runs_inline(SimpleNamespace(func_name=PROCESS_EVENT), matching)
    for heavy in (RUN_MATCHING, REPAIR_SEAT):
        assert not worker.runs_inline(SimpleNamespace(func_name=heavy), matching)


def test_an_inline_jobs_claim_lasts_its_whole_timeout(redis_client):
    # No heartbeat comes while the job runs in the worker's process.
    worker = _inline_worker(redis_client)
    worker.job_monitoring_interval, worker.heartbeat_grace = 10, 15
    worker._running_inline = True
    assert worker.get_heartbeat_ttl(SimpleNamespace(timeout=600)) == 615
    assert worker.get_heartbeat_ttl(SimpleNamespace(timeout=600), working_time=100) == 515


def test_an_inline_job_past_its_timeout_fails_and_the_worker_goes_on(app, redis_client):
    queue = Queue("default", connection=redis_client)
    late = queue.enqueue(f"{JOBS}.nap", 30, job_timeout=1)
    # Stopped inside a database statement, holding the session's transaction.
    held = queue.enqueue(f"{JOBS}.hold_the_database", 5, job_timeout=1)
    after = queue.enqueue(f"{JOBS}.count_users")
    pid = queue.enqueue(f"{JOBS}.process_id")

    _inline_worker(redis_client).work(burst=True)

    for job in (late, held):
        assert job.get_status() == JobStatus.FAILED
        assert "JobTimeoutException" in job.latest_result().exc_string
    assert after.get_status() == JobStatus.FINISHED
    assert after.return_value() == 0
    assert pid.return_value() == os.getpid()


def test_an_inline_job_that_raises_or_exits_fails_alone(app, redis_client):
    queue = Queue("default", connection=redis_client)
    raised = queue.enqueue(f"{JOBS}.crash", "raise")
    exited = queue.enqueue(f"{JOBS}.crash", "exit")
    after = queue.enqueue(f"{JOBS}.process_id")

    _inline_worker(redis_client).work(burst=True)

    assert raised.get_status() == JobStatus.FAILED
    assert "the job broke" in raised.latest_result().exc_string
    assert exited.get_status() == JobStatus.FAILED
    assert "SystemExit" in exited.latest_result().exc_string
    assert after.get_status() == JobStatus.FINISHED
    assert after.return_value() == os.getpid()


def test_a_stop_command_for_an_inline_job_does_not_kill_the_worker(app, tmp_path, redis_client):
    # RQ kills the horse's process group; with no horse that was the worker's own.
    job = Queue("default", connection=redis_client).enqueue(f"{JOBS}.nap", 2)
    env = {**worker_env(app, tmp_path), "WORKER_INLINE_QUEUES": "default"}
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="default", burst=True)
    try:
        wait_for(lambda: job.get_status() == JobStatus.STARTED, 30, "the job to start")
        send_stop_job_command(redis_client, job.id)
        assert worker.process.wait(timeout=60) == 0, worker.log()
    finally:
        worker.stop()
    assert job.get_status() == JobStatus.FINISHED
    assert "no work-horse to kill" in worker.log()


def test_an_inline_job_that_redis_left_is_retried_as_soon_as_redis_is_back(
    app, own_redis, tmp_path
):
    # Its claim lasts its whole timeout (600 s by default): released, the next
    # maintenance retries it at once, as it retries a dead horse's job.
    client = redis.Redis.from_url(own_redis.url)
    job = Queue("default", connection=client).enqueue(
        f"{JOBS}.shut_redis_down_once", own_redis.url, str(tmp_path / "once"), retry=Retry(max=1)
    )
    worker = _inline_worker(client)
    with pytest.raises(redis.RedisError):
        worker.work(burst=True)
    assert worker.interrupted is not None
    own_redis.start()
    assert job.get_status() == JobStatus.STARTED
    worker.release_interrupted_claim()

    _inline_worker(client).work(burst=True)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "retried"
