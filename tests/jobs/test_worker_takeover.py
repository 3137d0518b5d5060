"""How a worker takes over from one that died: a shorter claim on running jobs, and the
scheduler lock of a scheduler that stopped renewing it freed (and only that one)."""

from __future__ import annotations

from types import SimpleNamespace

from rq.scheduler import RQScheduler

from coordinator.worker import RELEASE_IF_HELD_BY, SCHEDULER_LEASE_SECONDS, SquadsWorker


def _worker(redis_client) -> SquadsWorker:
    return SquadsWorker(["default", "matching"], connection=redis_client)


def test_a_dead_schedulers_lock_is_freed_and_a_live_ones_is_kept(redis_client):
    dead = RQScheduler.get_locking_key("default")
    live = RQScheduler.get_locking_key("matching")
    # Renewed to 61 s every second: 45 s left means 16 s without a renewal.
    redis_client.set(dead, "dead-scheduler", ex=45)
    redis_client.set(live, "live-scheduler", ex=SCHEDULER_LEASE_SECONDS - 1)

    _worker(redis_client)._release_dead_scheduler_locks()

    assert redis_client.get(dead) is None
    assert redis_client.get(live) == b"live-scheduler"


def test_a_lock_taken_over_meanwhile_is_not_freed(redis_client):
    key = RQScheduler.get_locking_key("default")
    redis_client.set(key, "new-holder", ex=SCHEDULER_LEASE_SECONDS)
    release = redis_client.register_script(RELEASE_IF_HELD_BY)
    assert release(keys=[key], args=["dead-scheduler"]) == 0  # judged dead, but replaced
    assert redis_client.get(key) == b"new-holder"


def test_a_running_jobs_claim_is_the_monitoring_interval_plus_the_grace(redis_client):
    worker = _worker(redis_client)
    worker.job_monitoring_interval, worker.heartbeat_grace = 10, 15
    assert worker.get_heartbeat_ttl(SimpleNamespace(timeout=600)) == 25
    # Near its timeout, the claim ends with the job (plus the grace), not later.
    assert worker.get_heartbeat_ttl(SimpleNamespace(timeout=600), working_time=596) == 19
    assert worker.get_heartbeat_ttl(SimpleNamespace(timeout=None)) == 25
