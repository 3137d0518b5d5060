"""Volunteers' hours, per volunteer and per squad. Plain functions, no HTTP.

A volunteer's hours are the lengths of the sessions they worked: sessions that have
ended and were not cancelled, where they held a confirmed booking whose attendance the
lead recorded as `attended` or `late`, or has not recorded (yet); `no_show` and
`excused` do not count, and the no-shows are counted apart (shown to organizers only).
A squad's hours are person-hours: the sum over the confirmed bookings made with that
squad (`Assignment.squad_id`) that count, whoever made them and whether or not they are
still members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from coordinator.bookings.models import WORKED_ATTENDANCE, Assignment, AssignmentStatus
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.progress.operations import year_start
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.squads.models import Squad

GROUPINGS = ("volunteer", "squad")


@dataclass
class Hours:
    """Time worked by one volunteer or one squad."""

    id: int
    name: str
    minutes: int = 0
    session_ids: set[int] = field(default_factory=set)
    volunteer_ids: set[int] = field(default_factory=set)
    home_ward: str = ""
    no_shows: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)

    @property
    def sessions(self) -> int:
        return len(self.session_ids)

    @property
    def volunteers(self) -> int:
        return len(self.volunteer_ids)


def _ended_bookings(year: int | None, now: datetime | None) -> sa.Select[Any]:
    query = (
        sa.select(
            Assignment.volunteer_id,
            Assignment.squad_id,
            TrainingSession.id,
            TrainingSession.starts_at,
            TrainingSession.ends_at,
        )
        .join(TrainingSession, TrainingSession.id == Assignment.session_id)
        .where(
            Assignment.status == AssignmentStatus.CONFIRMED,
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.ends_at <= (now or utcnow()),
        )
    )
    if year is not None:
        query = query.where(
            TrainingSession.starts_at >= year_start(year),
            TrainingSession.starts_at < year_start(year + 1),
        )
    return query


def worked_bookings(
    year: int | None = None, now: datetime | None = None
) -> Iterator[tuple[int, int | None, int, int]]:
    """(volunteer id, squad id, session id, minutes) of every booking that counts:
    attendance `attended`, `late` or not recorded."""
    query = _ended_bookings(year, now).where(
        sa.or_(Assignment.attendance.is_(None), Assignment.attendance.in_(WORKED_ATTENDANCE))
    )
    for volunteer_id, squad_id, session_id, starts, ends in db.session.execute(query):
        yield volunteer_id, squad_id, session_id, int((ends - starts).total_seconds() // 60)


def no_shows(year: int | None = None, now: datetime | None = None) -> dict[int, int]:
    """Per volunteer, the ended sessions recorded as `no_show`."""
    query = _ended_bookings(year, now).where(Assignment.attendance == "no_show")
    counts: dict[int, int] = defaultdict(int)
    for volunteer_id, *_rest in db.session.execute(query):
        counts[volunteer_id] += 1
    return dict(counts)


def _ordered(found: dict[int, Hours]) -> list[Hours]:
    return sorted(found.values(), key=lambda h: (-h.minutes, h.name.casefold(), h.id))


def volunteer_hours(year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """Each volunteer with hours or no-shows, most hours first (`year`: sessions starting
    that year)."""
    found: dict[int, Hours] = {}
    for volunteer_id, _squad, session_id, minutes in worked_bookings(year, now):
        hours = found.setdefault(volunteer_id, Hours(id=volunteer_id, name=""))
        hours.minutes += minutes
        hours.session_ids.add(session_id)
        hours.volunteer_ids.add(volunteer_id)
    for volunteer_id, count in no_shows(year, now).items():
        found.setdefault(volunteer_id, Hours(id=volunteer_id, name="")).no_shows = count
    if found:
        for volunteer_id, name, ward in db.session.execute(
            sa.select(Volunteer.id, Volunteer.full_name, Volunteer.home_ward).where(
                Volunteer.id.in_(found)
            )
        ):
            found[volunteer_id].name, found[volunteer_id].home_ward = name, ward
    return _ordered(found)


def squad_hours(year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """Each squad with person-hours from the bookings made with it, most first."""
    found: dict[int, Hours] = defaultdict(lambda: Hours(id=0, name=""))
    for volunteer_id, squad_id, session_id, minutes in worked_bookings(year, now):
        if squad_id is None:
            continue
        hours = found[squad_id]
        hours.id = squad_id
        hours.minutes += minutes
        hours.session_ids.add(session_id)
        hours.volunteer_ids.add(volunteer_id)
    if found:
        for squad_id, name, ward in db.session.execute(
            sa.select(Squad.id, Squad.name, Squad.home_ward).where(Squad.id.in_(found))
        ):
            found[squad_id].name, found[squad_id].home_ward = name, ward
    return _ordered(dict(found))


def hours_by(by: str, year: int | None = None, now: datetime | None = None) -> list[Hours]:
    """volunteer_hours or squad_hours, by name."""
    return squad_hours(year, now) if by == "squad" else volunteer_hours(year, now)
