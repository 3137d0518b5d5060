"""Running an event's handlers exactly once in effect.

Features mark their handlers with `@handles(...)`; `create_app` hands the handler
modules to `init_app`, so importing a module registers nothing by itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from types import ModuleType

from flask import Flask, current_app

from coordinator.database import read_only, utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
HANDLED_TYPES = "handled_event_types"
EARLY_QUEUE = "early_queue"


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Mark a handler for these event types (prefix match with a trailing '*')."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, HANDLED_TYPES, event_types)
        return handler

    return mark


def early(queue: str) -> Callable[[Handler], Handler]:
    """Also run this handler at once, by a job of its own on `queue`, ahead of the
    event's place in its queue (a feed must not wait behind a backlog of events). Such
    a handler must be safe to run twice and only touch Redis: the early job commits
    nothing, and the event's own job runs it again."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, EARLY_QUEUE, queue)
        return handler

    return mark


def early_queues(event_type: str) -> set[str]:
    """The queues that get an early job for an event of this type."""
    return {q for h in handlers_for(event_type) if (q := getattr(h, EARLY_QUEUE, None))}


def process_early(event_id: int, queue: str) -> str:
    """Run the early handlers of one event on `queue` (reads only; rolls back)."""
    with read_only():
        try:
            event = db.session.get(DomainEvent, event_id)
            if event is None or event.processed_at is not None:
                return "nothing to do"
            for handler in handlers_for(event.type):
                if getattr(handler, EARLY_QUEUE, None) == queue:
                    handler(event)
            return "done"
        finally:
            db.session.rollback()


def init_app(app: Flask, *modules: ModuleType) -> None:
    """Register the marked handlers of `modules`, in module and definition order."""
    table: dict[str, list[Handler]] = defaultdict(list)
    for module in modules:
        for handler in vars(module).values():
            for event_type in getattr(handler, HANDLED_TYPES, ()):
                table[event_type].append(handler)
    app.extensions["event_handlers"] = table


def handlers_for(event_type: str) -> list[Handler]:
    """The handlers of `event_type` in this app: exact registrations, then patterns."""
    table: dict[str, list[Handler]] = current_app.extensions["event_handlers"]
    found = list(table.get(event_type, []))
    for pattern, handlers in table.items():
        if pattern.endswith("*") and event_type.startswith(pattern[:-1]):
            found.extend(h for h in handlers if h not in found)
    return found


def process_event(event_id: int) -> str:
    """Run the handlers of one event and mark it processed, in one transaction.

    Safe to run twice: a processed event is skipped. The row is locked on PostgreSQL
    (and SQLite's BEGIN IMMEDIATE serialises writers) so two workers cannot both run it.
    """
    event = db.session.get(DomainEvent, event_id, with_for_update=True)
    if event is None:
        db.session.rollback()
        return "missing"
    if event.processed_at is not None:
        db.session.rollback()
        return "already processed"
    for handler in handlers_for(event.type):
        handler(event)
    event.processed_at = utcnow()
    db.session.commit()
    log.info("processed event %s (%s)", event.id, event.type)
    return "processed"
