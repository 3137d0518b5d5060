"""The kinds of message, who gets each, and which ones a recipient may unsubscribe from
with one click (reminders and organizer alerts: the rest are about a booking itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

VOLUNTEER, PARTICIPANT, USER = "volunteer", "participant", "user"


@dataclass(frozen=True)
class Kind:
    code: str
    audiences: tuple[str, ...]
    optional: bool = False  # one-click unsubscribe (RFC 8058) is offered
    before_start: timedelta | None = None  # a reminder this long before the session
    attach_calendar: bool = False  # the session as an .ics attachment (METHOD:PUBLISH)


KINDS = {
    kind.code: kind
    for kind in (
        Kind("reminder_7d", (VOLUNTEER,), True, timedelta(days=7), True),
        Kind("reminder_1d", (VOLUNTEER, PARTICIPANT), True, timedelta(days=1), True),
        Kind("reminder_2h", (VOLUNTEER, PARTICIPANT), True, timedelta(hours=2), True),
        Kind("session_changed", (VOLUNTEER, PARTICIPANT), attach_calendar=True),
        Kind("session_cancelled", (VOLUNTEER, PARTICIPANT), attach_calendar=True),
        Kind("waitlist_promoted", (VOLUNTEER,), attach_calendar=True),
        Kind("proposal", (VOLUNTEER,)),
        Kind("proposal_expired", (VOLUNTEER,)),
        Kind("assigned", (VOLUNTEER,), attach_calendar=True),
        Kind("registration_promoted", (PARTICIPANT,), attach_calendar=True),
        # Its lead time is NOTIFICATION_UNFILLED_ALERT_DAYS (planning.unfilled_alert_lead).
        Kind("unfilled_roles", (USER,), True),
        Kind("organizer_digest", (USER,), True),
        # Cover requests (bookings/cover.py): a seat offered to a volunteer, its volunteer
        # told someone took it, the organizer alerted that nobody did by the deadline.
        Kind("cover_offer", (VOLUNTEER,)),
        Kind("cover_found", (VOLUNTEER,), attach_calendar=True),
        Kind("cover_unfilled", (USER,)),
        # After the session: "did you come?" with a one-tap answer (ATTENDANCE_ASK_HOURS).
        Kind("attendance_ask", (VOLUNTEER,), True),
    )
}
REMINDERS = tuple(k for k in KINDS.values() if k.before_start is not None)
# Session changes worth a message: when and where (a new description is not).
NOTIFIED_CHANGES = frozenset({"starts_at", "ends_at", "venue", "ward"})


def kinds_for(audience: str) -> list[Kind]:
    """The kinds a recipient of this audience can receive, in display order."""
    return [kind for kind in KINDS.values() if audience in kind.audiences]
