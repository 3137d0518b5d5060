"""One row per (caller, key): the claim a first request takes, then its answer."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import UTCDateTime, utcnow
from coordinator.extensions import db


class IdempotencyKey(db.Model):
    """A key as a caller used it. `status` is NULL while the first request is still at
    work; the answer is stored sealed (see replay.seal): the table alone never hands out
    a bearer token or a private feed address that an answer carried."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "key_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "user:<id>" for a logged-in caller, else "anonymous:<address>" (API) or "anonymous"
    # (page forms, whose tokens the server made).
    # "user:<id>" for a logged-in API caller, "anonymous:<address>" for another; "form"
    # for page forms, whose one-time tokens the server made.
    scope: Mapped[str] = mapped_column(sa.String(80))
    key_digest: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the key
    request_digest: Mapped[str] = mapped_column(sa.String(64))  # method, path and body
    status: Mapped[int | None]
    location: Mapped[str | None] = mapped_column(sa.Text)
    content_type: Mapped[str | None] = mapped_column(sa.String(120))
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
