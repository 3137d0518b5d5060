"""gunicorn's settings file, which it reads from the working directory: a hook only (the
command line chooses the workers, their class and the address)."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Each worker, its app loaded: compile the templates now rather than in the worker's
    first request of each page (a first dashboard cost ~190 ms of CPU against ~70 after
    it, issue 18), then freeze what start-up built (modules, routes, schemas, templates:
    ~230,000 objects), so that the collector's full passes, every few requests of a page
    that allocates much ("sessions that fit me"), no longer walk them (~100-200 ms each
    on this machine; with them frozen a city-size "fits me" spiked at 122 ms CPU instead
    of 295)."""
    environment = getattr(worker.wsgi, "jinja_env", None)
    if environment is not None:
        for name in environment.list_templates():
            environment.get_template(name)
    gc.collect()
    gc.freeze()
