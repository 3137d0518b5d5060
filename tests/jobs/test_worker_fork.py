"""A work-horse is forked from the worker's main process, where the sweep runs in a
thread: a fork in the middle of a sweep round would copy the locks the round holds, held
forever, into the horse."""

from __future__ import annotations

import threading
import time

from rq import Queue
from rq.job import JobStatus
from sqlalchemy.orm.mapper import _CONFIGURE_MUTEX

from coordinator import worker
from coordinator.events import relay
from coordinator.worker import SquadsWorker


def test_a_horse_forked_during_a_sweep_round_does_not_inherit_its_locks(
    app, redis_client, monkeypatch
):
    holding = threading.Event()

    def sweep_configuring_mappers(**_) -> int:
        # What the first ORM query of a round does once the database is back.
        if not holding.is_set():
            with _CONFIGURE_MUTEX:
                holding.set()
                time.sleep(1)
        return 0

    monkeypatch.setattr(relay, "sweep", sweep_configuring_mappers)
    app.config["OUTBOX_SWEEP_INTERVAL_SECONDS"] = 0.01
    job = Queue("default", connection=redis_client).enqueue(
        "tests.jobs.fault_jobs.configure_mappers", job_timeout=5
    )
    stop = threading.Event()
    sweeper = threading.Thread(target=worker._sweep_forever, args=(app, stop))
    sweeper.start()
    try:
        assert holding.wait(10)
        SquadsWorker(["default"], connection=redis_client).work(burst=True)
    finally:
        stop.set()
        sweeper.join(10)
    # Forked holding the mutex, the horse would wait on it until the job timed out.
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "configured"
