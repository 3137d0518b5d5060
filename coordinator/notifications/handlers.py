"""Domain events that plan messages, and the event that hands them to RQ's scheduler.

Planning writes rows in the event's transaction; their jobs are enqueued by a second
event (`notification.planned`), which the outbox relays only after that commit, so no
job can run before its row exists, and a Redis outage delays messages but loses none.
"""

from __future__ import annotations

from coordinator.events import outbox
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.notifications import planning, scheduling


@handles("session.*", "signup.*", "assignment.*", "waitlist.*", "registration.*", "cover.*")
def plan_notifications(event: DomainEvent) -> None:
    """Plan the reminders and notices this change of a session or booking calls for."""
    planned = planning.plan_for_event(event, planning.clock())
    if planned:
        outbox.record(
            "notification.planned",
            "notification",
            min(planned.scheduled + planned.dropped),
            {"scheduled": planned.scheduled, "dropped": planned.dropped},
        )


@handles("notification.planned")
def schedule_deliveries(event: DomainEvent) -> None:
    """Give each planned row its delivery job, at its time; take dropped rows' jobs away."""
    scheduling.schedule_deliveries(event.payload.get("scheduled", []))
    scheduling.cancel_deliveries(event.payload.get("dropped", []))
    scheduling.ensure_sweep()
