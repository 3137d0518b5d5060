"""Jobs driven by the outbox: one per committed domain event."""

from __future__ import annotations

from coordinator.events import dispatch
from jobs.context import job_context


def process_event(event_id: int) -> str:
    """Run the handlers of domain event `event_id` (idempotent; commits)."""
    with job_context():
        return dispatch.process_event(event_id)


def process_early(event_id: int, queue: str) -> str:
    """Run the handlers of event `event_id` that must not wait for its turn (feeds)."""
    with job_context():
        return dispatch.process_early([event_id], queue)


def process_early_many(event_ids: tuple[int, ...], queue: str) -> str:
    """The same for the events one relay handed over together, in one job."""
    with job_context():
        return dispatch.process_early(event_ids, queue)
