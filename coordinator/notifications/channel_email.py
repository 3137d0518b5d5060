"""Email as a channel: the letter composed as today (compose.build) and handed to the
SMTP server (mailer.send); its Message-ID is the provider id."""

from __future__ import annotations

from coordinator.notifications import compose, mailer
from coordinator.notifications.channels import PERMANENT, RETRYABLE, ChannelFailure, Sent
from coordinator.notifications.content import Letter
from coordinator.notifications.models import delivery_job_id


class EmailChannel:
    name = "email"

    def available(self, kind: str) -> bool:
        return True  # without MAIL_SERVER, messages go to the outbox folder

    def send(self, letter: Letter, address: str) -> Sent:
        message = compose.build(letter)
        try:
            mailer.send(message, delivery_job_id(letter.notification_id))
        except mailer.PermanentFailure as failure:
            raise ChannelFailure(PERMANENT, f"smtp_{failure.code}") from None
        except mailer.TemporaryFailure as failure:
            raise ChannelFailure(RETRYABLE, str(failure)) from None
        return Sent(message["Message-ID"], 0)


EMAIL_CHANNEL = EmailChannel()
