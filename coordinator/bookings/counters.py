"""Atomic counters, row locks and gap-free waitlists, shared by role seats and
participant places.

A place is taken only by `UPDATE ... SET n = n + 1 WHERE id = :id AND n < limit`: atomic
on every database, with a CHECK constraint behind it. Rows are locked roles first, then
volunteers, each in id order, so concurrent bookings queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, Registration
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.sessions.models import SessionRole, TrainingSession

# Rows that count places (a role's seats, a session's participant places), and rows that
# wait in line for them.
Counted = SessionRole | TrainingSession
Waiting = type[Assignment] | type[Registration]


def take_one(row: Counted, counter: str, limit: str) -> bool:
    """Add one to `row.<counter>` if it stays within `row.<limit>`; True when it did."""
    model = type(row)
    column = getattr(model, counter)
    result = cast(
        sa.CursorResult[Any],
        db.session.execute(
            sa.update(model)
            .where(model.id == row.id, column < getattr(model, limit))
            .values({counter: column + 1})
            .execution_options(synchronize_session=False)
        ),
    )
    db.session.expire(row, [counter])
    return result.rowcount == 1


def give_back(row: Counted, counter: str) -> None:
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


def next_position(model: Waiting, group: str, group_id: int) -> int:
    """The place at the end of the waitlist of `model` rows whose `group` is `group_id`."""
    highest = db.session.scalar(
        sa.select(sa.func.max(model.waitlist_position)).where(getattr(model, group) == group_id)
    )
    return (highest or 0) + 1


def close_gap(model: Waiting, group: str, group_id: int, position: int) -> None:
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


def expire_positions(model: Waiting) -> None:
    """Loaded rows of `model` re-read their place in line after a bulk renumbering."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, model):
            db.session.expire(obj, ["waitlist_position"])


def lock_roles(role_ids: Iterable[int]) -> None:
    """Row locks on PostgreSQL (ignored by SQLite, which already holds the write lock)."""
    db.session.execute(
        sa.select(SessionRole.id)
        .where(SessionRole.id.in_(sorted(set(role_ids))))
        .order_by(SessionRole.id)
        .with_for_update()
    ).all()


def lock_volunteers(volunteer_ids: Iterable[int]) -> None:
    """Row locks on volunteers, after their roles' (the order every booking path keeps)."""
    db.session.execute(
        sa.select(Volunteer.id)
        .where(Volunteer.id.in_(sorted(set(volunteer_ids))))
        .order_by(Volunteer.id)
        .with_for_update()
    ).all()


def take_seat(role: SessionRole) -> bool:
    """Atomically take one seat of `role` if one is free."""
    return take_one(role, "taken", "count")


def free_seat(role: SessionRole) -> None:
    """Give one seat of `role` back."""
    give_back(role, "taken")


def lock_and_reread(assignment: Assignment) -> None:
    """Lock the booking's role, then read the booking again: a change that committed
    between our first read and the lock (a promotion, another withdrawal) must not be
    acted on from stale values."""
    lock_roles([assignment.role_id])
    db.session.refresh(assignment)
