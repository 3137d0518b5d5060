"""Events of the people area that send something: the "forgot my password" mail.
(No module-level `current_app` here: the dispatcher reads every name of this module.)"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications import compose
from coordinator.people.models import User
from coordinator.people.password_reset import RESET_REQUESTED, reset_link, valid_minutes


@handles(RESET_REQUESTED)
def send_reset_link(event: DomainEvent) -> None:
    """Mail the link, in the user's language. A link from a retried job is as good as
    the first: both die when the password changes. A user gone inactive gets nothing."""
    user = db.session.get(User, event.aggregate_id)
    if user is None or not user.active:
        return
    link, minutes = reset_link(user), valid_minutes()
    with force_locale(user.locale or "vi"):
        subject = _("Set a new password")
        body = "\n\n".join(
            [
                _("Someone, hopefully you, asked to set a new password for this address."),
                _("Open this link within %(n)d minutes to choose one:", n=minutes),
                link,
                _(
                    "The link works once. If you did not ask, ignore this mail: your "
                    "password stays as it is."
                ),
            ]
        )
    compose.send_plain_mail(user.email, subject, body, f"password-reset-{event.id}")
