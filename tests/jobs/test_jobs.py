"""The map of background work: every job the app enqueues exists in `jobs/`, nothing
else can be enqueued, and every log line a job writes names the job."""

from __future__ import annotations

import importlib
import logging

import pytest
from rq import SimpleWorker

from coordinator import background
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.worker import CurrentJobFilter


@pytest.mark.parametrize("path", background.JOB_PATHS)
def test_every_job_the_app_names_is_a_function_of_jobs(path):
    module, name = path.rsplit(".", 1)
    assert module.startswith("jobs.")
    assert callable(getattr(importlib.import_module(module), name))


def test_only_jobs_of_jobs_can_be_enqueued(app):
    with pytest.raises(ValueError, match="not a job"):
        background.enqueue("os.system", "true")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(CurrentJobFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_lines_written_in_a_job_carry_its_id(app, redis_client, caplog):
    caplog.set_level(logging.INFO)
    lines = Lines()
    logging.getLogger().addHandler(lines)
    try:
        logging.getLogger("coordinator").info("outside any job")
        event = outbox.record("squad.changed", "squad", 7, {})
        db.session.commit()
        SimpleWorker(["default"], connection=redis_client).work(burst=True)
    finally:
        logging.getLogger().removeHandler(lines)

    by_message = {r.getMessage(): r.job_id for r in lines.records}
    assert by_message["outside any job"] == "-"
    assert by_message[f"processed event {event.id} (squad.changed)"] == f"evt-{event.id}"
