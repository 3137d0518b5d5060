"""An app context for job code, whether the job runs in `flask worker` or elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask, current_app, has_app_context

from coordinator import create_app
from coordinator.extensions import db

_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app()
    return _app


@contextlib.contextmanager
def job_context() -> Iterator[Flask]:
    """Use the running app's context (flask worker, tests) or build one; always end the
    job with a clean database session so a failed job cannot leak a transaction."""
    if has_app_context():
        app = current_app._get_current_object()
        try:
            yield app
        finally:
            db.session.remove()
        return
    app = _worker_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
