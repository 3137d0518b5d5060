"""Running an event's handlers exactly once in effect.

Features mark their handlers with `@handles(...)`; `create_app` hands the handler
modules to `init_app`, so importing a module registers nothing by itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from types import ModuleType

import sqlalchemy as sa
from flask import Flask, current_app

from coordinator.database import read_only, utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
ManyHandler = Callable[[list[DomainEvent]], None]
HANDLED_TYPES = "handled_event_types"
EARLY_QUEUE = "early_queue"
EARLY_MANY = "early_many"


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Mark a handler for these event types (prefix match with a trailing '*')."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, HANDLED_TYPES, event_types)
        return handler

    return mark


def early(queue: str, *, many: ManyHandler | None = None) -> Callable[[Handler], Handler]:
    """Also run this handler at once, by a job on `queue`, ahead of the event's place in
    its queue (a feed must not wait behind a backlog of events). Such a handler must be
    safe to run twice and only touch Redis: the early job commits nothing, and the
    event's own job runs it again. One early job serves all the events a relay hands over
    at once; `many`, if given, does the handler's work for several events in one go (a
    matching commit's thousand sessions: one query, not a thousand)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, EARLY_QUEUE, queue)
        setattr(handler, EARLY_MANY, many)
        return handler

    return mark


def early_queues(event_type: str) -> set[str]:
    """The queues that get an early job for an event of this type."""
    return {q for h in handlers_for(event_type) if (q := getattr(h, EARLY_QUEUE, None))}


def process_early(event_ids: Sequence[int], queue: str) -> str:
    """Run the early handlers on `queue` of these events, those still unprocessed (the
    others' own jobs ran them), each handler once for all its events when it can (reads
    only; rolls back)."""
    with read_only():
        try:
            events = db.session.scalars(
                sa.select(DomainEvent)
                .where(DomainEvent.id.in_(list(event_ids)), DomainEvent.processed_at.is_(None))
                .order_by(DomainEvent.id)
            ).all()
            if not events:
                return "nothing to do"
            found: dict[Handler, list[DomainEvent]] = {}  # in the first event's order
            for event in events:
                for handler in handlers_for(event.type):
                    if getattr(handler, EARLY_QUEUE, None) == queue:
                        found.setdefault(handler, []).append(event)
            for handler, theirs in found.items():
                many = getattr(handler, EARLY_MANY, None)
                if many is not None:
                    many(theirs)
                else:
                    for event in theirs:
                        handler(event)
            return f"done: {len(events)} events"
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
