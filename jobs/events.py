"""Jobs driven by the outbox."""

from __future__ import annotations

from jobs.context import job_context


def process_event(event_id: int) -> str:
    """Run the handlers of domain event `event_id` (idempotent)."""
    from coordinator.events import dispatch

    with job_context():
        return dispatch.process_event(event_id)


def sweep_outbox() -> int:
    """Enqueue committed events that were never enqueued."""
    from coordinator.events import relay

    with job_context():
        return relay.sweep()
