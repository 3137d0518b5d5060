"""Delivery reports from the providers: Zalo's webhook events and eSMS's delivery
callbacks. Each is checked before anything is read or stored; a request that fails the
check gets 401 and changes nothing.

- Zalo (`POST /webhooks/zalo`): the header `X-ZEvent-Signature: mac=<hex>` is
  SHA-256 of app id + the raw body + the body's `timestamp` + the OA secret key
  (Zalo for Developers, Official Account webhook: "Xác thực sự kiện"). The ZNS event
  `user_received_message` carries `message.msg_id` (and our `tracking_id`) and
  `message.delivery_time`: the message reached the phone.
- eSMS (`GET /webhooks/esms/<notification id>/<signature>`): eSMS signs nothing, so the
  CallbackUrl we give with each message carries an HMAC of its notification id under
  SECRET_KEY; the query has SMSID and SendStatus (5 sent, 4 rejected).

Answers say nothing about the message; log lines carry the notification id only (never
the phone number the providers include).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, request

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.notifications.links import _base_url as base_url
from coordinator.notifications.models import Notification

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
ESMS_DELIVERED, ESMS_REJECTED = "5", "4"


def zalo_signature(body: bytes, timestamp: str) -> str:
    """The value Zalo sends in X-ZEvent-Signature for this body."""
    config = current_app.config
    signed = (config["ZALO_APP_ID"] or "").encode() + body + timestamp.encode()
    signed += (config["ZALO_OA_SECRET"] or "").encode()
    return "mac=" + hashlib.sha256(signed).hexdigest()


def esms_signature(notification_id: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"esms-callback:{notification_id}".encode(), hashlib.sha256).hexdigest()


def esms_callback_url(notification_id: int) -> str:
    signature = esms_signature(notification_id)
    return f"{base_url()}/webhooks/esms/{notification_id}/{signature}"


def _mark(row_filter, status: str, at: datetime) -> int:
    result = db.session.execute(
        sa.update(Notification)
        .where(*row_filter)
        .values(delivery_status=status, delivered_at=at if status == "delivered" else None)
    )
    db.session.commit()
    return result.rowcount


@bp.post("/zalo")
def zalo_event():
    """A Zalo webhook event, signed by the OA's secret key."""
    config = current_app.config
    body = request.get_data(cache=False)
    if not config.get("ZALO_APP_ID") or not config.get("ZALO_OA_SECRET"):
        abort(401)
    try:
        event = json.loads(body)
        timestamp = str(event["timestamp"])
    except (ValueError, KeyError, TypeError):
        abort(401)  # unsigned garbage is not worth more than a refusal
    supplied = request.headers.get("X-ZEvent-Signature", "")
    if not hmac.compare_digest(supplied.encode(), zalo_signature(body, timestamp).encode()):
        abort(401)
    if str(event.get("app_id", "")) != str(config["ZALO_APP_ID"]):
        abort(401)
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    if event.get("event_name") == "user_received_message" and message.get("msg_id"):
        at = _event_time(message.get("delivery_time") or timestamp)
        changed = _mark(
            (
                Notification.channel == "zalo",
                Notification.provider_message_id == str(message["msg_id"]),
            ),
            "delivered",
            at,
        )
        log.info("zalo delivery event for %s message(s)", changed)
    return {"status": "ok"}


@bp.get("/esms/<int:notification_id>/<signature>")
def esms_callback(notification_id: int, signature: str):
    """eSMS's delivery callback for one SMS (our CallbackUrl, signed per message)."""
    if not hmac.compare_digest(signature.encode(), esms_signature(notification_id).encode()):
        abort(401)
    status = request.args.get("SendStatus", "")
    sms_id = request.args.get("SMSID", "")
    if status in (ESMS_DELIVERED, ESMS_REJECTED):
        conditions = [Notification.id == notification_id, Notification.channel == "sms"]
        if sms_id:
            conditions.append(
                sa.or_(
                    Notification.provider_message_id.is_(None),
                    Notification.provider_message_id == sms_id,
                )
            )
        delivered = status == ESMS_DELIVERED
        _mark(conditions, "delivered" if delivered else "undelivered", utcnow())
        log.info("sms delivery report for notification %s: %s", notification_id, status)
    return {"status": "ok"}


def _event_time(value) -> datetime:
    """Zalo's times are milliseconds since the epoch."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def init_app(app: Flask) -> None:
    """Register the webhooks, exempt from CSRF: providers authenticate by signature."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
