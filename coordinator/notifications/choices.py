"""A recipient's choices, as the preferences page and the API show and change them: each
kind of message on or off, and the channels it goes by (one of CHANNEL_ORDERS that the
kind may take). One set of rules for both."""

from __future__ import annotations

from flask_babel import gettext

from coordinator.notifications import preferences, routing
from coordinator.notifications.kinds import kinds_for
from coordinator.notifications.texts import MESSAGES
from coordinator.web.labels import N_

# The channel orders a person can choose per kind of message (the first is the default).
CHANNEL_ORDERS = {
    "zalo,sms,email": N_("Zalo, else SMS, then email"),
    "zalo,email": N_("Zalo, else email"),
    "sms,email": N_("SMS, else email"),
    "zalo,sms": N_("Zalo, else SMS"),
    "email": N_("Email only"),
}


def orders_for(kind: str) -> dict[str, str]:
    """The orders this kind may take (the 2-hour reminder: none with email only)."""
    return {
        value: words
        for value, words in CHANNEL_ORDERS.items()
        if routing.check_order(kind, value.split(",")) is None
    }


def current(recipient_kind: str, recipient_id: int) -> list[dict]:
    """Every kind this recipient can get: on or off, its channels, the other choices,
    named in the current language."""
    disabled = preferences.disabled_kinds(recipient_kind, recipient_id)
    return [
        {
            "code": kind.code,
            "label": gettext(MESSAGES[f"kind.{kind.code}"]),
            "enabled": kind.code not in disabled,
            "channels": ",".join(routing.order_for(recipient_kind, recipient_id, kind.code)),
            "orders": {value: gettext(words) for value, words in orders_for(kind.code).items()},
        }
        for kind in kinds_for(recipient_kind)
    ]


def change(
    recipient_kind: str, recipient_id: int, kind: str, enabled: bool | None, channels: str | None
) -> str | None:
    """Apply one kind's change (flushes); returns why it cannot be applied, or None."""
    if kind not in {k.code for k in kinds_for(recipient_kind)}:
        return "unknown_kind"
    if channels is not None and channels not in orders_for(kind):
        return "channels"
    if enabled is not None:
        preferences.set_enabled(recipient_kind, recipient_id, kind, enabled)
    if channels is not None:
        routing.set_order(recipient_kind, recipient_id, kind, channels.split(","))
    return None
