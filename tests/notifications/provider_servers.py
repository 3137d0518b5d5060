"""Local servers that speak the providers' documented protocols, started by the tests
(as aiosmtpd is for mail): Zalo's ZNS API and OA OAuth endpoint, and eSMS.vn's send API.

ZNS (Zalo for Developers, "Gửi ZNS"): POST /message/template, header `access_token`,
JSON {phone, template_id, template_data, tracking_id} -> {error, message, data: {msg_id,
sent_time}}; error -124 for an invalid access token, -118 when the number has no Zalo
account; a repeated tracking_id is not sent twice. Rate limiting answers HTTP 429.
OAuth: POST /v4/oa/access_token, form {app_id, refresh_token, grant_type=refresh_token},
header `secret_key` -> {access_token, refresh_token, expires_in}; the refresh token
is single-use. eSMS: POST /esms, JSON {ApiKey, SecretKey, Phone, Content, Brandname,
SmsType, IsUnicode, RequestId, CallbackUrl} -> {CodeResult, SMSID}; a repeated RequestId
answers 124; a blocked number 99.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

APP_ID, APP_SECRET, OA_SECRET = "4291763606161179100", "app-secret-key", "oa-secret-key"


class Providers:
    """What the providers received, and how they answer next (set by a test)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.zns_requests: list[dict] = []  # every request, answered or not
        self.zns_sent: dict[str, dict] = {}  # tracking_id -> the request ZNS delivered
        self.refreshes: list[dict] = []
        self.sms_requests: list[dict] = []
        self.sms_sent: dict[str, dict] = {}  # RequestId -> request
        self.valid_access_tokens: set[str] = set()
        self.refresh_token = "refresh-0"
        self.no_zalo: set[str] = set()  # phones (as sent) with no Zalo account
        self.rate_limit_next = 0  # answer this many ZNS requests with HTTP 429
        self.zns_error: int | None = None  # answer every ZNS request with this error
        # Accept the next ZNS message, then SIGKILL the RQ work-horse that sent it before
        # answering: it dies between the provider's acceptance and our commit.
        self.kill_after_accept = False
        self.killed: list[int] = []
        self.blocked_sms: set[str] = set()
        self.expires_in = 90000

    def expire_access_tokens(self) -> None:
        self.valid_access_tokens.clear()


class _Handler(BaseHTTPRequestHandler):
    providers: Providers

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        p = self.providers
        with p.lock:
            if self.path == "/message/template":
                return self._zns(p, json.loads(raw))
            if self.path == "/v4/oa/access_token":
                return self._oauth(p, {k: v[0] for k, v in parse_qs(raw.decode()).items()})
            if self.path == "/esms":
                return self._esms(p, json.loads(raw))
        self._answer(404, {})

    def _zns(self, p: Providers, body: dict) -> None:
        p.zns_requests.append({"headers": dict(self.headers), **body})
        if p.rate_limit_next:
            p.rate_limit_next -= 1
            return self._answer(429, {"error": -100, "message": "Too many requests"})
        if p.zns_error is not None:
            return self._answer(200, {"error": p.zns_error, "message": "Template ID invalid"})
        if self.headers.get("access_token") not in p.valid_access_tokens:
            return self._answer(200, {"error": -124, "message": "Access token invalid"})
        if body["phone"] in p.no_zalo:
            return self._answer(200, {"error": -118, "message": "Zalo account not existed"})
        tracking = body.get("tracking_id")
        if tracking not in p.zns_sent:  # ZNS de-duplicates on tracking_id
            p.zns_sent[tracking] = {**body, "msg_id": f"zns-msg-{next(p.ids)}"}
        msg_id = p.zns_sent[tracking]["msg_id"]
        if p.kill_after_accept:
            from tests.notifications.notification_helpers import wait_until_dead, work_horse_pid

            p.kill_after_accept = False
            horse = work_horse_pid()
            p.killed.append(horse)
            os.kill(horse, signal.SIGKILL)
            wait_until_dead(horse)
        self._answer(200, {"error": 0, "message": "Success", "data": {"msg_id": msg_id}})

    def _oauth(self, p: Providers, form: dict) -> None:
        p.refreshes.append({"secret_key": self.headers.get("secret_key"), **form})
        if (
            form.get("app_id") != APP_ID
            or self.headers.get("secret_key") != APP_SECRET
            or form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != p.refresh_token
        ):
            return self._answer(200, {"error": -14014, "error_name": "Invalid refresh token"})
        n = next(p.ids)
        p.refresh_token = f"refresh-{n}"  # single use: the old one stops working
        p.valid_access_tokens.add(f"access-{n}")
        self._answer(
            200,
            {
                "access_token": f"access-{n}",
                "refresh_token": p.refresh_token,
                "expires_in": str(p.expires_in),
            },
        )

    def _esms(self, p: Providers, body: dict) -> None:
        p.sms_requests.append(body)
        if body["Phone"] in p.blocked_sms:
            return self._answer(200, {"CodeResult": "99", "ErrorMessage": "Phone blocked"})
        if body["RequestId"] in p.sms_sent:
            return self._answer(200, {"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"})
        p.sms_sent[body["RequestId"]] = body
        self._answer(200, {"CodeResult": "100", "SMSID": f"sms-{next(p.ids)}"})


def provider_servers(app):
    """Run the providers for the test and point the app at them (a fixture's body)."""
    providers = Providers()
    handler = type("Handler", (_Handler,), {"providers": providers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    app.config.update(
        ZALO_APP_ID=APP_ID,
        ZALO_APP_SECRET=APP_SECRET,
        ZALO_OA_SECRET=OA_SECRET,
        ZALO_REFRESH_TOKEN="refresh-0",
        ZALO_ZNS_URL=f"{base}/message/template",
        ZALO_OAUTH_URL=f"{base}/v4/oa/access_token",
        ZALO_ZNS_TEMPLATES=json.dumps(
            {
                "assigned": "300001",
                "reminder_1d": "300002",
                "session_changed": "300003",
                "proposal": "300004",
                "reminder_2h": "300005",
            }
        ),
        ESMS_API_URL=f"{base}/esms",
        ESMS_API_KEY="esms-api-key",
        ESMS_SECRET_KEY="esms-secret",
        ESMS_BRANDNAME="BinhDanHocVuSo",
        PROVIDER_TIMEOUT_SECONDS=5,
    )
    try:
        yield providers
    finally:
        server.shutdown()
        server.server_close()
