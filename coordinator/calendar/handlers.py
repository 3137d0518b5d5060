"""Keep cached calendar feeds honest: drop them when what they show has changed."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import Assignment, Registration
from coordinator.calendar import cache
from coordinator.events.dispatch import early, handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db


def ward_feed_cache_key(ward_code: str) -> str:
    return cache.feed_key(f"ward:{ward_code}")


def squad_feed_cache_key(squad_id: int) -> str:
    return cache.feed_key(f"squad:{squad_id}")


def feeds_showing_session(session_id: int) -> set[str]:
    """Every squad, volunteer and participant feed that shows (or showed) a session."""
    assignments = sa.select(sa.literal("a"), Assignment.volunteer_id, Assignment.squad_id).where(
        Assignment.session_id == session_id
    )
    registrations = sa.select(sa.literal("r"), Registration.participant_id, sa.null()).where(
        Registration.session_id == session_id
    )
    names = set()
    for kind, person_id, squad_id in db.session.execute(assignments.union_all(registrations)):
        names.add(f"volunteer:{person_id}" if kind == "a" else f"participant:{person_id}")
        if squad_id is not None:
            names.add(f"squad:{squad_id}")
    return names


# Early: a changed session reaches its feeds within a second or two even behind a
# backlog of events (a job of its own on the "feeds" queue, which workers take first).
FEEDS_QUEUE = "feeds"


@early(FEEDS_QUEUE)
@handles("session.*", "signup.*", "assignment.*", "waitlist.*", "registration.*")
def invalidate_session_feeds(event: DomainEvent) -> None:
    """A session or a booking in it changed: its ward feeds (old and new ward), and the
    feeds of its squads, volunteers (mates' names show) and participants go stale."""
    payload = event.payload or {}
    wards = {payload.get("ward"), payload.get("previous_ward")} - {None}
    names = {f"ward:{w}" for w in wards} | {f"squad:{s}" for s in payload.get("squad_ids", [])}
    session_id = payload.get("session_id", event.aggregate_id)
    if event.aggregate_type == "session" or "session_id" in payload:
        names |= feeds_showing_session(session_id)
    cache.invalidate(names)


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
