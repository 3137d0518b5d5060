"""Running an RQ worker inside the app (`flask worker`): small jobs in the worker's own
process, fork-safe database pools, an outbox sweeper, quicker takeover from dead workers,
and the job id in every log line."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from types import FrameType

import redis
from flask import Flask, has_app_context
from rq import Worker, get_current_job
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.worker import DequeueStrategy, WorkerStatus
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from coordinator.background import (
    REFRESH_PROGRESS_COUNTS,
    REPAIR_SEAT,
    RUN_IMPORT,
    RUN_MATCHING,
)
from coordinator.events import relay
from coordinator.extensions import db, redis_connection
from coordinator.matching import handlers as matching_handlers

log = logging.getLogger(__name__)
LATE_WARNING_EVERY_SECONDS = 300
# Held by a sweep round and by every fork (a work-horse, the scheduler), so they take
# turns. A fork copies every lock another thread holds, held forever, into the child: a
# horse forked while the sweep configured SQLAlchemy's mappers (its first ORM query, once
# the database was back) waited on that mutex until its job timed out.
SWEEP_OR_FORK = threading.Lock()
JOB_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(job_id)s]: %(message)s"


class CurrentJobFilter(logging.Filter):
    """Adds the running job's id to every record (`-` outside a job), so a log line
    says which job wrote it (the idea of Redash's filter of the same name)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()
        record.job_id = job.id if job is not None else "-"
        return True


def log_job_ids() -> None:
    """Name the current job in every line the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, CurrentJobFilter) for f in handler.filters):
            handler.addFilter(CurrentJobFilter())
            handler.setFormatter(logging.Formatter(JOB_LOG_FORMAT))


def _dispose_pools_in_child(app: Flask) -> None:
    """A forked work-horse must not reuse the parent's database connections."""
    with app.app_context():
        engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def _sweep_forever(app: Flask, stop: threading.Event) -> None:
    """The worker's own sweeps, in a thread of its main process, so they run whether or
    not its work-horse is busy: events that never reached Redis or whose jobs were lost
    or failed, matching runs an outage interrupted, and a warning for late events."""
    interval = app.config["OUTBOX_SWEEP_INTERVAL_SECONDS"]
    warned_at = 0.0
    while not stop.wait(interval):
        with SWEEP_OR_FORK, app.app_context():
            try:
                sent = relay.sweep() + relay.requeue_lost()
                if sent:
                    log.info("outbox sweep enqueued %d events", sent)
                matching_handlers.restart_interrupted_runs()
                if time.monotonic() - warned_at > LATE_WARNING_EVERY_SECONDS:
                    late = relay.late_events()
                    if late:
                        warned_at = time.monotonic()
                        log.warning("%d events are still unprocessed after 10 minutes", late)
            except (OperationalError, redis.ConnectionError) as error:
                # A busy SQLite (another process holds the write lock past the busy
                # timeout, as on a first start that seeds or migrates) or a database or
                # Redis that is away: the next round tries again, no traceback needed.
                log.warning("outbox sweep skipped: %s", getattr(error, "orig", None) or error)
            except Exception:  # keep sweeping: the next round may find Redis or the DB back
                log.exception("outbox sweep failed")
            finally:
                db.session.remove()


# RQScheduler's lock lease: its polling interval (1 s) + 60 s, renewed on every poll.
SCHEDULER_LEASE_SECONDS = 61
# Deletes a lock only if it still names the holder we judged dead.
RELEASE_IF_HELD_BY = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


# Taken before any other queue whatever the round robin: feed invalidations are tiny, and
# a change must reach the feeds within seconds even behind a backlog of events.
PRIORITY_QUEUES = ("feeds",)
# Heavy jobs that fork a work-horse even on a queue of WORKER_INLINE_QUEUES: minutes of
# work and memory that the horse's exit gives back, and a kill that takes only the horse.
# On the matching queue that leaves inline only the events' jobs, which enqueue a run or
# a repair (two forks per part of a city's run were a second of its wall time).
ALWAYS_FORK = (RUN_IMPORT, REFRESH_PROGRESS_COUNTS, RUN_MATCHING, REPAIR_SEAT)


class PriorityFirst:
    """Round robin among the queues, except that PRIORITY_QUEUES always come first."""

    _ordered_queues: list

    def reorder_queues(self, reference_queue) -> None:
        super().reorder_queues(reference_queue)  # type: ignore[misc]
        first = [q for q in self._ordered_queues if q.name in PRIORITY_QUEUES]
        rest = [q for q in self._ordered_queues if q.name not in PRIORITY_QUEUES]
        self._ordered_queues = first + rest


class SquadsWorker(PriorityFirst, Worker):
    """RQ's worker, quicker to take over from a worker that died (SIGKILL, lost machine).

    RQ keeps a running job's claim 60 s past each heartbeat, and a dead scheduler's lock
    61 s: a job whose worker died waited well over a minute for a retry, which is itself
    scheduled, so it also waited for the scheduler lock. Here a claim lasts the monitoring
    interval plus `heartbeat_grace` seconds, and maintenance frees scheduler locks whose
    holder stopped beating (it beats every second) so this worker's scheduler takes over.
    """

    heartbeat_grace = 15
    scheduler_stale_seconds = 10
    stop_was_requested = False  # SIGINT/SIGTERM, as opposed to quitting on an error
    # Queues whose jobs run in this process, as RQ's SimpleWorker runs every job: a fork
    # per job (~0.1-0.5 s of a core at city size, page tables, gc.freeze) cost more than
    # a feed invalidation or an event's handlers. The rest fork as RQ's Worker does.
    inline_queues: frozenset[str] = frozenset()
    _running_inline = False
    interrupted = None  # (execution, queue) of an inline job that Redis's loss cut off

    def release_interrupted_claim(self) -> None:
        """Once Redis is back: end the claim of the inline job it cut off, so the next
        maintenance (any worker's) retries it as abandoned, as a dead horse's job is,
        instead of after its whole timeout. A job that did finish is left alone."""
        if self.interrupted is None:
            return
        execution, queue = self.interrupted
        with self.connection.pipeline() as pipeline:
            queue.started_job_registry.add_execution(execution, pipeline=pipeline, ttl=0, xx=True)
            pipeline.execute()
        self.interrupted = None

    def runs_inline(self, job, queue) -> bool:
        return queue.name in self.inline_queues and job.func_name not in ALWAYS_FORK

    def execute_job(self, job, queue) -> None:
        if not self.runs_inline(job, queue):
            super().execute_job(job, queue)
            return
        # As SimpleWorker.execute_job. The timeout still holds: perform_job sets RQ's
        # death penalty, a SIGALRM whose handler raises JobTimeoutException in this (the
        # main) thread; perform_job catches whatever the job raises (SystemExit too),
        # fails or retries the job, and the worker goes on. The job's own job_context
        # ends its database session; a timeout that struck inside that very cleanup
        # would leave the session to the next job, so it is ended here again.
        self._running_inline = True
        execution = None
        try:
            execution = self.prepare_execution(job)
            self.perform_job(job, queue, execution)
        except redis.RedisError:
            # Redis went away under the job (perform_job could not record its end). No
            # heartbeat renews an inline job's claim, which lasts its whole timeout: it
            # is released once Redis is back (release_interrupted_claim).
            if execution is not None:
                self.interrupted = (execution, queue)
            raise
        finally:
            self._running_inline = False
            if has_app_context():
                db.session.remove()
        self.set_state(WorkerStatus.IDLE)

    def kill_horse(self, sig=None) -> None:
        # With no horse (an inline job, or between jobs) RQ's would kill the process
        # group of pid 0: this worker's own. A stop-job command for an inline job is
        # refused; its timeout still ends it.
        if not self.horse_pid:
            log.warning("no work-horse to kill: the job runs in the worker's process")
            return
        if sig is None:
            super().kill_horse()
        else:
            super().kill_horse(sig)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_was_requested = True
        super().request_stop(signum, frame)

    def fork_work_horse(self, job, queue) -> None:
        with SWEEP_OR_FORK:  # never in the middle of a sweep round
            # What the worker holds (the app, its modules, mappers: ~200,000 objects)
            # lives on in the horse unchanged: frozen, the horse's full collections skip
            # it (each cost a ward's matching run 0.3 s) and do not copy its pages.
            gc.freeze()
            try:
                super().fork_work_horse(job, queue)  # returns in the worker only
            finally:
                # The worker's own collections see everything again: objects it drops
                # later (an inline job's, a sweep round's) would never be freed frozen.
                gc.unfreeze()

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            if self._running_inline:  # no heartbeat until the job ends
                interval = job.timeout - working_time
            else:
                interval = min(job.timeout - working_time, interval)
        return int(interval) + self.heartbeat_grace

    def run_maintenance_tasks(self) -> None:
        self._release_dead_scheduler_locks()
        with SWEEP_OR_FORK:  # may fork our scheduler's process
            super().run_maintenance_tasks()  # starts our scheduler where a lock is free

    def _start_scheduler(self, *args, **kwargs) -> None:  # rq 3.0.0's, forks its process
        with SWEEP_OR_FORK:
            super()._start_scheduler(*args, **kwargs)

    def _release_dead_scheduler_locks(self) -> None:
        """A live scheduler renews its lock to a 61 s lease every second; a lease that has
        run down by more than `scheduler_stale_seconds` belongs to a dead one."""
        release = self.connection.register_script(RELEASE_IF_HELD_BY)
        for queue in self.queues:
            key = RQScheduler.get_locking_key(queue.name)
            holder, remaining = self.connection.get(key), self.connection.ttl(key)
            if holder is None or remaining < 0:
                continue
            if remaining < SCHEDULER_LEASE_SECONDS - self.scheduler_stale_seconds:
                if release(keys=[key], args=[holder]):
                    log.warning(
                        "freed the scheduler lock of queue %s: its holder stopped", queue.name
                    )


def run_worker(app: Flask, queues: list[str], burst: bool = False) -> bool:
    """Work the queues (with RQ's scheduler) until stopped, or until empty in burst mode.

    Redis or the database going away never ends the process: the worker waits for Redis
    with backoff and starts again. Anything else is a bug and ends it (exit status 1, for
    the supervisor to see and restart)."""
    _dispose_pools_in_child(app)
    log_job_ids()
    with app.app_context():
        try:
            redis_connection.check_eviction_policy()  # warns when Redis may evict jobs
            relay.sweep(min_age_seconds=0)  # what piled up while no worker ran
            relay.requeue_lost()  # and what a Redis that lost its data dropped
        except (redis.RedisError, SQLAlchemyError) as error:  # the sweeps will catch up
            log.warning("startup sweep skipped: %s", error)
        finally:
            db.session.remove()
        connection = redis_connection.client
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_sweep_forever, args=(app, stop), daemon=True).start()
    try:
        while True:
            worker = _new_worker(app, queues, connection)
            try:
                # Round robin: a burst of sign-up events on `default` must not hold back
                # the notifications queue (or the reverse).
                worked = worker.work(
                    with_scheduler=True,
                    burst=burst,
                    logging_level="INFO",
                    dequeue_strategy=DequeueStrategy.ROUND_ROBIN,
                )
            except (redis.RedisError, OSError) as error:
                # RQ lets a Redis error out of work() when Redis goes away outside its
                # dequeue loop: a heartbeat while a job runs, register_death on the way out.
                log.warning("the RQ worker lost Redis: %s", error)
                worked = False
            if burst or worker.stop_was_requested:
                return worked
            # Its work-horse would run on unwatched, holding its transaction (on SQLite,
            # the write lock) while it waits for Redis: end it, and its job is retried
            # as abandoned, like a job of a worker that died.
            if worker.horse_pid:
                worker.kill_horse()
                worker.wait_for_horse()
            if not _wait_for_redis(app, connection, worker):
                return worked
            try:
                worker.release_interrupted_claim()
            except redis.RedisError as error:  # gone again: its claim runs out instead
                log.warning("could not release an interrupted job's claim: %s", error)
    finally:
        stop.set()


def _wait_for_redis(app: Flask, connection: redis.Redis, worker: SquadsWorker) -> bool:
    """Back off (1, 2, 4 ... RQ_RECONNECT_MAX_SECONDS) until Redis answers; False when a
    stop was asked for meanwhile."""
    longest = app.config["RQ_RECONNECT_MAX_SECONDS"]
    delay = 1.0
    while not worker.stop_was_requested:
        try:
            if connection.ping():
                log.warning("Redis answers again: a new RQ worker starts")
                return True
        except redis.RedisError:
            pass
        log.warning("Redis does not answer; trying again in %.0f s", delay)
        try:
            _sleep_unless_stopped(delay, worker)
        except StopRequested:  # SIGTERM while waiting
            return False
        delay = min(delay * 2, longest)
    return False


def _sleep_unless_stopped(seconds: float, worker: SquadsWorker) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not worker.stop_was_requested:
        time.sleep(min(0.2, deadline - time.monotonic()))


def _new_worker(app: Flask, queues: list[str], connection) -> SquadsWorker:
    worker = SquadsWorker(
        queues,
        connection=connection,
        worker_ttl=app.config["RQ_WORKER_TTL"],
        maintenance_interval=app.config["RQ_MAINTENANCE_INTERVAL"],
        job_monitoring_interval=app.config["RQ_JOB_MONITORING_INTERVAL"],
    )
    worker.heartbeat_grace = app.config["RQ_HEARTBEAT_GRACE_SECONDS"]
    worker.inline_queues = frozenset(app.config["WORKER_INLINE_QUEUES"])
    worker.max_connection_wait_time = app.config["RQ_RECONNECT_MAX_SECONDS"]
    return worker
