"""SMS through eSMS.vn's HTTP API (customer-care SMS under a registered brand name).

Sources (eSMS for Developers, https://developers.esms.vn/en/esms-api/send-sms-api/
send-otp-customer-care-message): POST
https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/ with JSON
{ApiKey, SecretKey, Phone, Content, Brandname, SmsType ("2": customer care), IsUnicode,
RequestId, CallbackUrl}; the answer {CodeResult, SMSID, ErrorMessage}, CodeResult "100"
accepted. Error codes (https://developers.esms.vn/en/esms-api/table-of-error-codes): 99
number blocked, 101 wrong keys, 103 balance too low, 104 brand name unknown, 108 phone
number malformed, 124 duplicate RequestId, 140 IP not allowed. Delivery receipts come to
CallbackUrl (https://developers.esms.vn/en/esms-api/callback-url) as an HTTP GET with
SMSID and SendStatus (5 sent, 4 rejected), with no signature: our CallbackUrl carries a
per-message HMAC instead (webhooks.py).

Exactly once: RequestId is our job id; eSMS refuses a second request with the same
RequestId (124), which we take as "already accepted".
"""

from __future__ import annotations

import phonenumbers
from flask import current_app

from coordinator.notifications import channels, short
from coordinator.notifications.channels import (
    PERMANENT,
    RETRYABLE,
    WRONG_ADDRESS,
    ChannelFailure,
    Sent,
)
from coordinator.notifications.content import Letter
from coordinator.notifications.models import delivery_job_id

ACCEPTED, DUPLICATE = "100", "124"
WRONG_NUMBER = {"99", "108"}
RETRY_LATER = {"103"}  # balance too low: topped up, it goes


def national(e164: str) -> str:
    """+84912345678 -> 0912345678, the form of eSMS's examples."""
    number = phonenumbers.parse(e164)
    return "0" + str(number.national_number)


class SmsChannel:
    name = "sms"

    def available(self, kind: str) -> bool:
        return bool(current_app.config.get("ESMS_API_KEY"))

    def send(self, letter: Letter, address: str) -> Sent:
        from coordinator.notifications.webhooks import esms_callback_url

        config = current_app.config
        content = short.sms_text(letter)
        body = {
            "ApiKey": config["ESMS_API_KEY"],
            "SecretKey": config.get("ESMS_SECRET_KEY") or "",
            "Phone": national(address),
            "Content": content,
            "Brandname": config.get("ESMS_BRANDNAME") or "",
            "SmsType": config["ESMS_SMS_TYPE"],
            "IsUnicode": "0" if content.isascii() else "1",
            "RequestId": delivery_job_id(letter.notification_id),
            "CallbackUrl": esms_callback_url(letter.notification_id),
        }
        _, answer = channels.post(config["ESMS_API_URL"], json_body=body)
        code = str(answer.get("CodeResult", ""))
        price = config["ESMS_PRICE_VND"]
        if code == ACCEPTED:
            return Sent(answer.get("SMSID") or None, price)
        if code == DUPLICATE:
            return Sent(None, price)  # an earlier attempt of this job was accepted
        if code in WRONG_NUMBER:
            raise ChannelFailure(WRONG_ADDRESS, f"esms_{code}")
        if code in RETRY_LATER:
            raise ChannelFailure(RETRYABLE, f"esms_{code}")
        raise ChannelFailure(PERMANENT, f"esms_{code or 'no_code'}")


SMS_CHANNEL = SmsChannel()
