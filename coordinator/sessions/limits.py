"""A session's limits, in one place: the API's schemas and the organizers' page form
both read them, so a value one accepts the other accepts too."""

from __future__ import annotations

from typing import NamedTuple


class Bounds(NamedTuple):
    """Inclusive bounds: characters for text, the value for numbers."""

    min: int
    max: int


TITLE = Bounds(1, 300)
DESCRIPTION = Bounds(0, 10_000)
VENUE = Bounds(1, 300)
CAPACITY = Bounds(1, 10_000)  # participants; a session for nobody is not a session
ROLE_SEATS = Bounds(0, 100)  # volunteers in one role
ROLES = Bounds(0, 20)  # roles in one session
WEEKLY = Bounds(1, 52)  # sessions in a weekly series, the first included
DURATION_MINUTES = Bounds(15, 12 * 60)  # MAX_DURATION in minutes
REASON = Bounds(1, 1000)
