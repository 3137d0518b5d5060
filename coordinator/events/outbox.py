"""Writing domain events, and noticing which ones a commit made durable."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import current_user
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from coordinator.events.models import DomainEvent
from coordinator.events.relay import publish
from coordinator.extensions import db

log = logging.getLogger(__name__)
_PENDING = "outbox_pending_events"  # flushed in the open transaction
_COMMITTED = "outbox_committed_events"  # committed, waiting for the connection release


def record(
    type: str,
    aggregate_type: str,
    aggregate_id: int,
    payload: dict | None = None,
    *,
    actor_id: int | None = None,
    reason: str | None = None,
) -> DomainEvent:
    """Add an event to the current transaction. Payload: ids and codes, never personal data."""
    if actor_id is None and has_app_context():
        user = current_user if current_user and current_user.is_authenticated else None
        actor_id = user.id if user is not None else None
    event = DomainEvent(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload or {},
        actor_id=actor_id,
        reason=reason,
    )
    db.session.add(event)
    return event


def record_many(
    type: str, aggregate_type: str, items: list[tuple[int, dict]], *, actor_id: int | None = None
) -> None:
    """Add one event of `type` per (aggregate id, payload) to the current transaction, in
    that order. On PostgreSQL in one INSERT from arrays (a month's matching run records
    thousands: as ORM objects, their flush cost more than the run's own writes); the
    relay learns their ids as it learns those of `record`."""
    if not items:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        for aggregate_id, payload in items:
            record(type, aggregate_type, aggregate_id, payload, actor_id=actor_id)
        return
    if actor_id is None and has_app_context():
        user = current_user if current_user and current_user.is_authenticated else None
        actor_id = user.id if user is not None else None
    # One JSON document of the events, read back by jsonb_to_recordset: one parameter.
    given = (
        sa.func.jsonb_to_recordset(
            sa.bindparam(
                "given",
                [
                    {"aggregate_id": i, "payload": p, "position": n}
                    for n, (i, p) in enumerate(items)
                ],
                type_=JSONB,
            )
        )
        .table_valued(
            sa.column("aggregate_id", sa.Integer),
            sa.column("payload", JSONB),
            sa.column("position", sa.Integer),
            name="given",
        )
        .render_derived(with_types=True)
    )
    source = sa.select(
        sa.literal(type),
        sa.literal(aggregate_type),
        given.c.aggregate_id,
        given.c.payload,
        sa.literal(actor_id, sa.Integer),
    ).order_by(given.c.position)
    ids = db.session.scalars(
        sa.insert(DomainEvent)
        .from_select(["type", "aggregate_type", "aggregate_id", "payload", "actor_id"], source)
        .returning(DomainEvent.id)
    ).all()
    db.session.info.setdefault(_PENDING, []).extend(sorted(ids))


def _after_flush(session: Session, _context) -> None:
    # Ids, not objects: reading an expired object's id after the commit would begin a
    # new transaction (and, on SQLite, take the write lock the relay then waits for).
    ids = [obj.id for obj in session.new if isinstance(obj, DomainEvent)]
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    committed = session.info.pop(_PENDING, None)
    if committed:
        session.info.setdefault(_COMMITTED, []).extend(committed)


def _after_transaction_end(session: Session, transaction) -> None:
    """Relay once the transaction is over and its connection is back in the pool: a
    relay that needed a second connection while holding the first could starve a
    small pool under load."""
    if transaction.parent is not None or _COMMITTED not in session.info:
        return
    event_ids = session.info.pop(_COMMITTED)
    if not has_app_context() or not current_app.config.get("OUTBOX_RELAY_AFTER_COMMIT", True):
        return
    try:
        publish(event_ids)
    except Exception:  # the change is committed; the sweep relays what this missed
        log.exception("after-commit relay failed; events stay in the outbox")


def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint; publish() skips ids whose rows were rolled back
    session.info.pop(_PENDING, None)


def install_listeners() -> None:
    """Hook the outbox into every SQLAlchemy session (idempotent)."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
        ("after_rollback", _after_rollback),
    ):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)
