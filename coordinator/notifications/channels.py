"""The channel interface: one rendered message to one address, answered by the
provider's id for it or a classified failure.

    channel.send(letter, address) -> Sent(provider_message_id, price_vnd)
    raises ChannelFailure(RETRYABLE | PERMANENT | WRONG_ADDRESS, code)

RETRYABLE: the job's Retry backs off and sends again (same tracking id, same content).
PERMANENT: this channel will not carry it (a refused template, a bad sender
configuration, SMTP 5xx): the next channel is tried, and with none left the row is
failed with `code` as its reason. WRONG_ADDRESS: this channel cannot reach this person
(no Zalo account, a blocked number): the next channel in the person's order is tried at
once.

Implementations: `email` (the SMTP mailer), `zalo` (ZNS), `sms` (eSMS.vn). Errors
never carry the address or the provider's text (which may quote it): only codes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from flask import current_app

from coordinator.notifications.content import Letter

EMAIL, ZALO, SMS = "email", "zalo", "sms"
DEFAULT_ORDER = (ZALO, SMS, EMAIL)  # for Vietnam: Zalo; SMS if Zalo has no account; email
PHONE_CHANNELS = frozenset({ZALO, SMS})
RETRYABLE, PERMANENT, WRONG_ADDRESS = "retryable", "permanent", "wrong_address"


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None
    price_vnd: int = 0


class ChannelFailure(Exception):
    """A classified failure; `code` is short and safe to store and log."""

    def __init__(self, kind: str, code: str):
        super().__init__(f"{kind}: {code}")
        self.kind = kind
        self.code = code


class Channel(Protocol):
    name: str

    def available(self, kind: str) -> bool:
        """Configured, and able to carry this kind of message."""

    def send(self, letter: Letter, address: str) -> Sent:
        """Send the letter to the address, or raise ChannelFailure."""


def get(name: str) -> Channel:
    from coordinator.notifications import channel_email, sms, zalo

    return {EMAIL: channel_email.EMAIL_CHANNEL, ZALO: zalo.ZALO_CHANNEL, SMS: sms.SMS_CHANNEL}[name]


def post(url: str, *, json_body=None, form=None, headers=None) -> tuple[int, dict]:
    """POST and read a JSON answer: (HTTP status, body). Network trouble and answers that
    are not JSON are RETRYABLE failures (nothing of the request is in the message)."""
    # The URLs are configuration (https in production, loopback in tests).
    data = json.dumps(json_body).encode() if json_body is not None else None
    content_type = "application/json"
    if form is not None:
        data, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
    request = urllib.request.Request(  # noqa: S310  # nosec B310
        url, data=data, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    timeout = current_app.config["PROVIDER_TIMEOUT_SECONDS"]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        raise ChannelFailure(RETRYABLE, f"network_{type(error).__name__}") from None
    if status == 429 or status >= 500:
        raise ChannelFailure(RETRYABLE, f"http_{status}")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ChannelFailure(RETRYABLE, f"http_{status}_not_json") from None
    return status, body if isinstance(body, dict) else {}
