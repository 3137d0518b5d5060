"""Helpers for status vocabularies kept as `StrEnum`s: the stored values are the
enums' values (plain strings, the contract), and the CHECK constraints and partial
indexes are written from the same enums, so a status exists in one place."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


def values(statuses: Iterable[StrEnum]) -> tuple[str, ...]:
    """The stored strings, in declaration order."""
    return tuple(status.value for status in statuses)


def status_in(statuses: Iterable[StrEnum], column: str = "status") -> str:
    """`status IN ('a', 'b')`: a CHECK constraint's or a partial index's condition."""
    return f"{column} IN {values(statuses)!r}"
