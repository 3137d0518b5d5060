"""Which kinds of message a recipient turned off (absent row: the kind is on)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from coordinator.extensions import db
from coordinator.notifications.kinds import kinds_for
from coordinator.notifications.models import NotificationOptOut


def disabled_kinds(recipient_kind: str, recipient_id: int) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(NotificationOptOut.kind).where(
                NotificationOptOut.recipient_kind == recipient_kind,
                NotificationOptOut.recipient_id == recipient_id,
            )
        )
    )


def is_enabled(recipient_kind: str, recipient_id: int, kind: str) -> bool:
    return kind not in disabled_kinds(recipient_kind, recipient_id)


def set_enabled(recipient_kind: str, recipient_id: int, kind: str, enabled: bool) -> None:
    """Turn one kind on or off; doing it twice is the same as once (flushes)."""
    key = {"recipient_kind": recipient_kind, "recipient_id": recipient_id, "kind": kind}
    row = db.session.get(NotificationOptOut, key)
    if enabled and row is not None:
        db.session.delete(row)
        db.session.flush()
    elif not enabled and row is None:
        try:
            with db.session.begin_nested():
                db.session.add(NotificationOptOut(**key))
        except IntegrityError:
            pass  # a simultaneous click (PostgreSQL) stored the same opt-out first


def save(recipient_kind: str, recipient_id: int, enabled_kinds: set[str]) -> None:
    """The preferences page: every kind of this audience on if listed, else off."""
    for kind in kinds_for(recipient_kind):
        set_enabled(recipient_kind, recipient_id, kind.code, kind.code in enabled_kinds)
