"""Zalo Notification Service (ZNS): a registered template with our parameters to a phone
number, through the Official Account's app.

Sources (Zalo for Developers, https://developers.zalo.me/docs/zalo-notification-service/):
- send by phone: POST https://business.openapi.zalo.me/message/template, header
  `access_token`, JSON {phone, template_id, template_data, tracking_id}; the answer is
  {error, message, data: {msg_id, sent_time, quota}}; error 0 is success.
- the OA access token is refreshed with the refresh token: POST (form)
  https://oauth.zaloapp.com/v4/oa/access_token {app_id, refresh_token,
  grant_type=refresh_token}, header `secret_key` (the app's secret); the answer
  {access_token, refresh_token, expires_in (seconds)}; the refresh token is single-use
  and a new one comes with each answer.
- error codes (https://zalo.cloud/zns/guidelines/handle-error-code): -100 unknown error
  ("try again later"), -108 phone number invalid, -118 Zalo account not existed, -119
  account cannot receive ZNS, -124 access token invalid.

tracking_id is our notification id: a retry after a timeout sends the same tracking id,
which ZNS de-duplicates.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from flask import current_app

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.notifications import channels, short
from coordinator.notifications.channels import (
    PERMANENT,
    RETRYABLE,
    WRONG_ADDRESS,
    ChannelFailure,
    Sent,
)
from coordinator.notifications.content import Letter
from coordinator.notifications.models import ZaloToken
from coordinator.phones import national_digits

log = logging.getLogger(__name__)

NO_ACCOUNT = {-118, -119, -108}  # not this number: the next channel
TOKEN_INVALID = {-124}  # refresh the access token and send again, once
RETRY_LATER = {-100}  # "unknown error, please try again later"; HTTP 429/5xx likewise


def templates() -> dict[str, str]:
    return json.loads(current_app.config.get("ZALO_ZNS_TEMPLATES") or "{}")


def _token_row() -> ZaloToken | None:
    row = db.session.get(ZaloToken, 1, with_for_update=True)
    if row is None and current_app.config.get("ZALO_REFRESH_TOKEN"):
        row = ZaloToken(id=1, refresh_token=current_app.config["ZALO_REFRESH_TOKEN"])
        db.session.add(row)
        db.session.flush()
    return row


def access_token(now: datetime | None = None, force: bool = False) -> str:
    """A valid OA access token, refreshed first when it expires within the margin (or
    `force`). Commits: a refresh token Zalo rotated must be kept whatever happens next."""
    now = now or utcnow()
    margin = timedelta(seconds=current_app.config["ZALO_TOKEN_REFRESH_MARGIN_SECONDS"])
    row = _token_row()
    if row is None:
        db.session.rollback()
        raise ChannelFailure(PERMANENT, "zalo_no_refresh_token")
    if not force and row.access_token and row.expires_at and row.expires_at - margin > now:
        token = row.access_token
        db.session.commit()
        return token
    config = current_app.config
    status, body = channels.post(
        config["ZALO_OAUTH_URL"],
        form={
            "app_id": config["ZALO_APP_ID"],
            "refresh_token": row.refresh_token,
            "grant_type": "refresh_token",
        },
        headers={"secret_key": config.get("ZALO_APP_SECRET") or ""},
    )
    if not body.get("access_token") or not body.get("refresh_token"):
        db.session.rollback()
        log.warning("zalo token refresh refused (HTTP %s, error %s)", status, body.get("error"))
        raise ChannelFailure(PERMANENT, "zalo_refresh_refused")
    row.access_token, row.refresh_token = body["access_token"], body["refresh_token"]
    row.expires_at = now + timedelta(seconds=int(body.get("expires_in") or 0))
    row.refreshed_at = now
    token = row.access_token
    db.session.commit()
    log.info("zalo access token refreshed, valid until %s", row.expires_at.isoformat())
    return token


class ZaloChannel:
    name = "zalo"

    def available(self, kind: str) -> bool:
        return bool(current_app.config.get("ZALO_APP_ID")) and kind in templates()

    def send(self, letter: Letter, address: str) -> Sent:
        body = {
            "phone": national_digits(address),
            "template_id": templates()[letter.kind],
            "template_data": short.zns_data(letter),
            "tracking_id": str(letter.notification_id),
        }
        error = None
        for force in (False, True):
            headers = {"access_token": access_token(force=force)}
            _, answer = channels.post(
                current_app.config["ZALO_ZNS_URL"], json_body=body, headers=headers
            )
            error = _code(answer)
            if error == 0:
                msg_id = (answer.get("data") or {}).get("msg_id")
                return Sent(
                    str(msg_id) if msg_id else None, current_app.config["ZALO_ZNS_PRICE_VND"]
                )
            if error not in TOKEN_INVALID:
                break
        if error in NO_ACCOUNT:
            raise ChannelFailure(WRONG_ADDRESS, f"zns_{error}")
        if error in RETRY_LATER or error in TOKEN_INVALID:
            raise ChannelFailure(RETRYABLE, f"zns_{error}")
        raise ChannelFailure(PERMANENT, f"zns_{error}")


def _code(answer: dict) -> int | None:
    try:
        return int(answer.get("error"))
    except (TypeError, ValueError):
        return None


ZALO_CHANNEL = ZaloChannel()
