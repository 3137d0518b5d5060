"""The worker's sweep round meets a busy SQLite ("database is locked", as on a first start
while another process seeds or migrates): one warning line and the next round, never a
traceback in the log."""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy.exc import OperationalError

from coordinator import worker
from coordinator.events import relay


def test_a_locked_database_is_a_warning_not_a_traceback(app, monkeypatch, caplog):
    rounds = threading.Event()
    calls = []

    def locked(**_) -> int:
        calls.append(1)
        if len(calls) >= 2:
            rounds.set()
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(relay, "sweep", locked)
    app.config["OUTBOX_SWEEP_INTERVAL_SECONDS"] = 0.01
    stop = threading.Event()
    sweeper = threading.Thread(target=worker._sweep_forever, args=(app, stop))
    with caplog.at_level(logging.INFO, logger="coordinator.worker"):
        sweeper.start()
        try:
            assert rounds.wait(10), "the sweep stopped after the first error"
        finally:
            stop.set()
            sweeper.join(10)
    records = [r for r in caplog.records if r.name == "coordinator.worker"]
    assert records and all(r.exc_info is None for r in records)
    assert "database is locked" in records[0].getMessage()
    assert records[0].levelno == logging.WARNING
