"""Keep cached calendar feeds honest: drop them when what they show has changed."""

from __future__ import annotations

from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import redis_connection


def ward_feed_cache_key(ward_code: str) -> str:
    return f"calendar:feed:ward:{ward_code}"


def squad_feed_cache_key(squad_id: int) -> str:
    return f"calendar:feed:squad:{squad_id}"


@handles("session.*")
def invalidate_session_feeds(event: DomainEvent) -> None:
    """A session changed: its ward feeds (old and new ward) and its squads' feeds go stale."""
    wards = {event.payload.get("ward"), event.payload.get("previous_ward")} - {None}
    squads = set(event.payload.get("squad_ids", []))
    keys = [ward_feed_cache_key(w) for w in wards] + [squad_feed_cache_key(s) for s in squads]
    if keys:
        redis_connection.client.delete(*keys)


@handles("squad.*")
def invalidate_squad_feed(event: DomainEvent) -> None:
    redis_connection.client.delete(squad_feed_cache_key(event.aggregate_id))
