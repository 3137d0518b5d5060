"""The kinds of message, who gets each, and which ones a recipient may unsubscribe from
with one click (reminders and organizer alerts: the rest are about a booking itself);
the channels a kind may take, and which kinds carry one-tap answer links. When each
reminder goes is ladder.py's."""

from __future__ import annotations

from dataclasses import dataclass

VOLUNTEER, PARTICIPANT, USER = "volunteer", "participant", "user"
EMAIL_ONLY, PHONE_ONLY = ("email",), ("zalo", "sms")


@dataclass(frozen=True)
class Kind:
    code: str
    audiences: tuple[str, ...]
    optional: bool = False  # one-click unsubscribe (RFC 8058) is offered
    reminder: bool = False  # planned before the session (ladder.reminder_at)
    attach_calendar: bool = False  # the session as an .ics attachment (METHOD:PUBLISH)
    channels: tuple[str, ...] | None = None  # the only channels it may take (None: any)
    # Carries one-tap "Xác nhận" / "Không tham gia được" links for these audiences
    # (answers.py says what each answer does).
    answerable: tuple[str, ...] = ()
    # Asked for by the person a moment ago: no preference to turn it off, and never held
    # for quiet hours (they are waiting for it).
    requested: bool = False


KINDS = {
    kind.code: kind
    for kind in (
        Kind("reminder_7d", (VOLUNTEER,), True, True, True, channels=EMAIL_ONLY),
        Kind("reminder_1d", (VOLUNTEER, PARTICIPANT), True, True, True, answerable=(VOLUNTEER,)),
        Kind("reminder_2h", (VOLUNTEER, PARTICIPANT), True, True, channels=PHONE_ONLY),
        Kind("session_changed", (VOLUNTEER, PARTICIPANT), attach_calendar=True),
        Kind("session_cancelled", (VOLUNTEER, PARTICIPANT), attach_calendar=True),
        Kind("waitlist_promoted", (VOLUNTEER,), attach_calendar=True),
        Kind("proposal", (VOLUNTEER,), answerable=(VOLUNTEER,)),
        Kind("proposal_expired", (VOLUNTEER,)),
        Kind("assigned", (VOLUNTEER,), attach_calendar=True),
        # A volunteer's own sign-up confirmed, or a proposal accepted: the ladder's start.
        Kind("booking_confirmed", (VOLUNTEER,), attach_calendar=True),
        Kind("registration_promoted", (PARTICIPANT,), attach_calendar=True),
        # Its lead time is NOTIFICATION_UNFILLED_ALERT_DAYS (planning.unfilled_alert_lead).
        Kind("unfilled_roles", (USER,), True),
        Kind("organizer_digest", (USER,), True),
        # The evening before (ladder.unconfirmed_list_at): volunteers who did not confirm.
        Kind("unconfirmed_volunteers", (USER,), True),
        # Cover requests (bookings/cover.py): a seat offered to a volunteer, its volunteer
        # told someone took it, the organizer alerted that nobody did by the deadline.
        Kind("cover_offer", (VOLUNTEER,)),
        Kind("cover_found", (VOLUNTEER,), attach_calendar=True),
        Kind("cover_unfilled", (USER,)),
        # After the session: "did you come?" with a one-tap answer (ATTENDANCE_ASK_HOURS).
        Kind("attendance_ask", (VOLUNTEER,), True),
        # The links back to one's registrations, asked for by phone on /registrations/find
        # (participants/way_back.py); by email they are a plain mail.
        Kind("registration_links", (PARTICIPANT,), channels=PHONE_ONLY, requested=True),
    )
}
REMINDERS = tuple(k for k in KINDS.values() if k.reminder)
# Session changes worth a message: when and where (a new description is not).
NOTIFIED_CHANGES = frozenset({"starts_at", "ends_at", "venue", "ward"})


def kinds_for(audience: str) -> list[Kind]:
    """The kinds a recipient of this audience can turn on or off, in display order."""
    return [kind for kind in KINDS.values() if audience in kind.audiences and not kind.requested]


def requested(kind: str) -> bool:
    return kind in KINDS and KINDS[kind].requested


def allowed_channels(kind: str) -> tuple[str, ...] | None:
    return KINDS[kind].channels if kind in KINDS else None


def answerable(kind: str, audience: str) -> bool:
    return kind in KINDS and audience in KINDS[kind].answerable
