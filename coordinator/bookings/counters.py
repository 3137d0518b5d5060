"""Atomic counters and gap-free waitlists, shared by role seats and participant places.

A place is taken only by `UPDATE ... SET n = n + 1 WHERE id = :id AND n < limit`: atomic
on every database, with a CHECK constraint behind it.
"""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.extensions import db


def take_one(row, counter: str, limit: str) -> bool:
    """Add one to `row.<counter>` if it stays within `row.<limit>`; True when it did."""
    model = type(row)
    column = getattr(model, counter)
    result = db.session.execute(
        sa.update(model)
        .where(model.id == row.id, column < getattr(model, limit))
        .values({counter: column + 1})
        .execution_options(synchronize_session=False)
    )
    db.session.expire(row, [counter])
    return result.rowcount == 1


def give_back(row, counter: str) -> None:
    """Subtract one from `row.<counter>`, never below zero."""
    model = type(row)
    column = getattr(model, counter)
    db.session.execute(
        sa.update(model)
        .where(model.id == row.id, column > 0)
        .values({counter: column - 1})
        .execution_options(synchronize_session=False)
    )
    db.session.expire(row, [counter])


def next_position(model, group: str, group_id: int) -> int:
    """The place at the end of the waitlist of `model` rows whose `group` is `group_id`."""
    highest = db.session.scalar(
        sa.select(sa.func.max(model.waitlist_position)).where(getattr(model, group) == group_id)
    )
    return (highest or 0) + 1


def close_gap(model, group: str, group_id: int, position: int) -> None:
    """Move everyone behind `position` up one. Two steps through negative numbers, since
    PostgreSQL checks a unique index row by row during an UPDATE."""
    table = model.__table__
    in_group = table.c[group] == group_id
    db.session.execute(
        table.update()
        .where(in_group, table.c.waitlist_position > position)
        .values(waitlist_position=-(table.c.waitlist_position - 1))
    )
    db.session.execute(
        table.update()
        .where(in_group, table.c.waitlist_position < 0)
        .values(waitlist_position=-table.c.waitlist_position)
    )
    expire_positions(model)


def expire_positions(model) -> None:
    """Loaded rows of `model` re-read their place in line after a bulk renumbering."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, model):
            db.session.expire(obj, ["waitlist_position"])
