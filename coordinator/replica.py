"""Reports read from a PostgreSQL replica when one is configured (docs/scaling.md).

`DATABASE_REPLICA_URL` names it; the app then has a bind "replica" (Flask-SQLAlchemy's
`SQLALCHEMY_BINDS`) and `from_replica()` routes the reads of the code inside it there:
the progress reports and the hours (`progress/api.py`, `progress/pages.py`), which
tolerate lagging a moment and write nothing. Unset: everything reads the primary.
Writes never go to the replica: a flush, an INSERT / UPDATE / DELETE or a SELECT ...
FOR UPDATE inside the block, or a bare `get_bind()`, still take the primary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.session import Session as FlaskSession

BIND = "replica"
READING = "read_replica"  # Session.info: the reads of this block go to the replica


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, sending the reads of a `from_replica` block to the
    replica's engine."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: Any | None = None,
        **kwargs: Any,
    ) -> Any:
        if (
            bind is None
            and clause is not None  # a statement (a bare get_bind() may be for a write)
            and self.info.get(READING)
            and not self._flushing
            and not getattr(clause, "is_dml", False)
            and getattr(clause, "_for_update_arg", None) is None  # locks: the primary's
        ):
            replica = self._db.engines.get(BIND)
            if replica is not None:
                return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def engine() -> sa.engine.Engine:
    """The replica's engine when configured, else the primary's (for code that opens its
    own connection: the CSV exports that stream)."""
    from coordinator.extensions import db

    return db.engines.get(BIND, db.engine)


@contextmanager
def from_replica() -> Iterator[None]:
    """The reads inside go to the replica (if one is configured)."""
    from coordinator.extensions import db

    session = db.session()
    if BIND not in db.engines or session.info.get(READING):
        yield
        return
    session.info[READING] = True
    try:
        yield
    finally:
        session.info.pop(READING, None)


def reads_replica(view: Callable[..., Any]) -> Callable[..., Any]:
    """A report view whose reads go to the replica: put it right above the function,
    below the login checks (a revoked token must stop at once: those read the primary)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with from_replica():
            return view(*args, **kwargs)

    return wrapper
