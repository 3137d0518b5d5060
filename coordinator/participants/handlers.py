"""Events of the participants area that send something: the links back to one's
registrations, mailed to the address given when registering, or planned as a short
message (Zalo, else SMS) when asked for by phone.
(No module-level `current_app` here: the dispatcher reads every name of this module.)"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from coordinator.events import outbox
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications import compose, planning
from coordinator.notifications.kinds import PARTICIPANT
from coordinator.participants.way_back import (
    LINKS_REQUESTED,
    PHONE_MESSAGES_PER_DAY,
    live_registrations_of,
    manage_url,
)
from coordinator.people.models import Participant, ParticipantPrivate
from coordinator.sessions.models import TrainingSession


@handles(LINKS_REQUESTED)
def send_registration_links(event: DomainEvent) -> None:
    """One mail with a link per live registration, in the participant's language; asked
    for by phone, a `registration_links` message (delivered like every other)."""
    if event.payload.get("by") == "phone":
        _plan_phone_message(event)
        return
    participant = db.session.get(Participant, event.aggregate_id)
    private = db.session.get(ParticipantPrivate, event.aggregate_id)
    if participant is None or private is None or participant.erased_at is not None:
        return
    field = "guardian_contact" if event.payload.get("to") == "guardian" else "contact"
    address = getattr(private, field) or ""
    registrations = live_registrations_of(participant.id)
    if "@" not in address or not registrations:
        return
    with force_locale(participant.locale or "vi"):
        lines = [_("Your registrations for the digital skills sessions:"), ""]
        for registration in registrations:
            session = db.session.get_one(TrainingSession, registration.session_id)
            lines += [session.title, manage_url(registration), ""]
        lines.append(
            _(
                "Each link lets you cancel that registration or get a new calendar link. "
                "Keep them to yourself."
            )
        )
        subject = _("Your registrations")
    compose.send_plain_mail(address, subject, "\n".join(lines), f"registration-links-{event.id}")


def _plan_phone_message(event: DomainEvent) -> None:
    planned = planning.plan_requested(
        (PARTICIPANT, event.aggregate_id),
        "registration_links",
        about=f"e{event.id}",
        at=planning.clock(),
        per_day=PHONE_MESSAGES_PER_DAY,
    )
    if planned:
        outbox.record(
            "notification.planned",
            "notification",
            planned[0],
            {"scheduled": planned, "dropped": []},
        )
