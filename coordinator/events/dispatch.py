"""Running an event's handlers exactly once in effect."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler for these event types (prefix match with a trailing '*')."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            if handler not in _handlers[event_type]:
                _handlers[event_type].append(handler)
        return handler

    return register


def handlers_for(event_type: str) -> list[Handler]:
    found = list(_handlers.get(event_type, []))
    for pattern, handlers in _handlers.items():
        if pattern.endswith("*") and event_type.startswith(pattern[:-1]):
            found.extend(h for h in handlers if h not in found)
    return found


def load_handlers() -> None:
    """Import the feature modules that register handlers."""
    from coordinator.calendar import handlers as _calendar  # noqa: F401
    from coordinator.matching import handlers as _matching  # noqa: F401
    from coordinator.notifications import handlers as _notifications  # noqa: F401


def process_event(event_id: int) -> str:
    """Run the handlers of one event and mark it processed, in one transaction.

    Safe to run twice: a processed event is skipped. The row is locked on PostgreSQL
    (and SQLite's BEGIN IMMEDIATE serialises writers) so two workers cannot both run it.
    """
    load_handlers()
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
