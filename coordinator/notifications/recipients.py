"""Who a message goes to: an address, a name and a language, per kind of recipient.

Participants are reached at their guardian's contact when one was given (a minor
registered by an organizer), else at their own; a contact that is a phone number cannot
be mailed but can get Zalo and SMS. Addresses are read here, at sending time, and never
written into events, job arguments or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.errors import HeaderParseError, InvalidHeaderDefect
from email.headerregistry import Address

from coordinator.extensions import db
from coordinator.notifications.kinds import PARTICIPANT, USER, VOLUNTEER
from coordinator.people.models import Participant, User, Volunteer
from coordinator.phones import e164_or_none


@dataclass(frozen=True)
class Recipient:
    kind: str
    id: int
    address: str | None  # email
    name: str | None
    locale: str
    phone: str | None = None  # E.164, for Zalo and SMS


def _email(value: str | None) -> str | None:
    """The value if it is a mailable address (a phone number, say, is not)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        address = Address(addr_spec=value)
    except (ValueError, HeaderParseError, InvalidHeaderDefect):
        return None
    return value if address.username and "." in address.domain else None


def find(recipient_kind: str, recipient_id: int) -> Recipient | str:
    """The recipient, or why they cannot be reached ('gone', 'inactive', 'no_address')."""
    phone = None
    if recipient_kind == VOLUNTEER:
        volunteer = db.session.get(Volunteer, recipient_id)
        if volunteer is None:
            return "gone"
        if not volunteer.active:
            return "inactive"
        address, name, locale = volunteer.email, volunteer.full_name, volunteer.locale
        phone = e164_or_none(volunteer.phone)
    elif recipient_kind == PARTICIPANT:
        participant = db.session.get(Participant, recipient_id)
        if participant is None or participant.erased_at is not None:
            return "gone"
        private = participant.private
        # A guardian's contact, when given, is the only one: a minor is not messaged
        # directly, by any channel.
        contacts = () if private is None else (private.guardian_contact or private.contact,)
        address = next((c for c in map(_email, contacts) if c), None)
        phone = next((c for c in map(e164_or_none, contacts) if c), None)
        name, locale = participant.full_name, participant.locale
    elif recipient_kind == USER:
        user = db.session.get(User, recipient_id)
        if user is None:
            return "gone"
        if not user.active:
            return "inactive"
        address, locale = user.email, user.locale
        name = user.volunteer.full_name if user.volunteer is not None else None
        phone = e164_or_none(user.volunteer.phone) if user.volunteer is not None else None
    else:
        return "gone"
    address = _email(address)
    if address is None and phone is None:
        return "no_address"
    return Recipient(recipient_kind, recipient_id, address, name, locale or "vi", phone)
