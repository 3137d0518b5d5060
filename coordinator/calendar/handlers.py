"""Keep cached calendar feeds honest: drop them when what they show has changed."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, Registration
from coordinator.calendar import cache
from coordinator.events.dispatch import early, handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db

# Bind parameters per statement stay far below PostgreSQL's limit whatever a batch holds.
SESSIONS_PER_QUERY = 1_000


def ward_feed_cache_key(ward_code: str) -> str:
    return cache.feed_key(f"ward:{ward_code}")


def squad_feed_cache_key(squad_id: int) -> str:
    return cache.feed_key(f"squad:{squad_id}")


def feeds_showing_sessions(session_ids: Iterable[int]) -> set[str]:
    """Every squad, volunteer and participant feed that shows (or showed) one of these
    sessions, in one query (`SESSIONS_PER_QUERY` sessions at most per statement)."""
    ids = sorted(set(session_ids))
    names = set()
    for start in range(0, len(ids), SESSIONS_PER_QUERY):
        chunk = ids[start : start + SESSIONS_PER_QUERY]
        assignments = sa.select(
            sa.literal("a"), Assignment.volunteer_id, Assignment.squad_id
        ).where(Assignment.session_id.in_(chunk))
        registrations = sa.select(sa.literal("r"), Registration.participant_id, sa.null()).where(
            Registration.session_id.in_(chunk)
        )
        for kind, person_id, squad_id in db.session.execute(assignments.union_all(registrations)):
            names.add(f"volunteer:{person_id}" if kind == "a" else f"participant:{person_id}")
            if squad_id is not None:
                names.add(f"squad:{squad_id}")
    return names


def feeds_showing_session(session_id: int) -> set[str]:
    """Every squad, volunteer and participant feed that shows (or showed) a session."""
    return feeds_showing_sessions([session_id])


def feeds_of_session_events(events: Iterable[DomainEvent]) -> set[str]:
    """The feeds these session and booking events make stale: their sessions' ward feeds
    (old and new ward), and the feeds of their squads, volunteers (mates' names show)
    and participants."""
    names: set[str] = set()
    sessions: set[int] = set()
    for event in events:
        payload = event.payload or {}
        wards = {payload.get("ward"), payload.get("previous_ward")} - {None}
        names |= {f"ward:{w}" for w in wards}
        names |= {f"squad:{s}" for s in payload.get("squad_ids", [])}
        if event.aggregate_type == "session" or "session_id" in payload:
            sessions.add(payload.get("session_id", event.aggregate_id))
    return names | feeds_showing_sessions(sessions)


def invalidate_feeds_of_session_events(events: list[DomainEvent]) -> None:
    cache.invalidate(feeds_of_session_events(events))


# Early: a changed session reaches its feeds within a second or two even behind a
# backlog of events (a job on the "feeds" queue, which workers take first; one job and
# one query for all the events of a relay's batch).
FEEDS_QUEUE = "feeds"


@early(FEEDS_QUEUE, many=invalidate_feeds_of_session_events)
@handles("session.*", "signup.*", "assignment.*", "waitlist.*", "registration.*")
def invalidate_session_feeds(event: DomainEvent) -> None:
    """A session or a booking in it changed: its feeds go stale."""
    invalidate_feeds_of_session_events([event])


@early(FEEDS_QUEUE)
@handles("squad.*")
def invalidate_squad_feed(event: DomainEvent) -> None:
    cache.invalidate({f"squad:{event.aggregate_id}"})


@early(FEEDS_QUEUE)
@handles("volunteer.*")
def invalidate_feeds_naming_volunteer(event: DomainEvent) -> None:
    """A volunteer's name or contact shows in the feeds of everyone booked with them;
    their language only in their own."""
    if (event.payload or {}).get("fields") == ["locale"]:
        cache.invalidate({f"volunteer:{event.aggregate_id}"})
        return
    mine = sa.select(Assignment.session_id).where(Assignment.volunteer_id == event.aggregate_id)
    mates = db.session.scalars(
        sa.select(Assignment.volunteer_id).where(Assignment.session_id.in_(mine)).distinct()
    )
    cache.invalidate({f"volunteer:{v}" for v in mates} | {f"volunteer:{event.aggregate_id}"})
