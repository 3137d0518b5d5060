"""Running an RQ worker inside the app: fork-safe database pools and an outbox sweeper."""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask
from rq import Worker

from coordinator.events import dispatch, relay
from coordinator.extensions import db, redis_connection

log = logging.getLogger(__name__)


def _dispose_pools_in_child(app: Flask) -> None:
    """A forked work-horse must not reuse the parent's database connections."""
    with app.app_context():
        engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def _sweep_forever(app: Flask, stop: threading.Event) -> None:
    interval = app.config["OUTBOX_SWEEP_INTERVAL_SECONDS"]
    while not stop.wait(interval):
        with app.app_context():
            try:
                sent = relay.sweep() + relay.requeue_lost()
                if sent:
                    log.info("outbox sweep enqueued %d events", sent)
            except Exception:  # keep sweeping: the next round may find Redis or the DB back
                log.exception("outbox sweep failed")
            finally:
                db.session.remove()


def run_worker(app: Flask, queues: list[str], burst: bool = False) -> bool:
    """Work the queues (with RQ's scheduler) until stopped, or until empty in burst mode."""
    _dispose_pools_in_child(app)
    dispatch.load_handlers()  # import once here, not in every forked work-horse
    with app.app_context():
        redis_connection.check_eviction_policy()  # warns when Redis may evict queued jobs
        relay.sweep(min_age_seconds=0)  # what piled up while no worker ran
        relay.requeue_lost()  # and what a Redis that lost its data dropped
        connection = redis_connection.client
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_sweep_forever, args=(app, stop), daemon=True).start()
    worker = Worker(
        queues,
        connection=connection,
        worker_ttl=app.config["RQ_WORKER_TTL"],
        maintenance_interval=app.config["RQ_MAINTENANCE_INTERVAL"],
    )
    try:
        return worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    finally:
        stop.set()
