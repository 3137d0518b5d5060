"""The one mechanism that makes creating requests idempotent, as request hooks for the
whole app: API POSTs with an `Idempotency-Key` header, and page forms with a one-time
`form_token` field (put there by the `form_token()` template global).

The first request with a key claims it: it inserts the key's row in its own transaction,
so the claim commits with whatever the request creates (one commit, as every request),
and a failure rolls both back. The answer is then written to the row. A concurrent copy
cannot insert the same (caller, key): PostgreSQL's unique index makes it wait for the
first transaction, SQLite's write lock does the same; it then reads the row and waits
until the answer is there, and sends that answer. The database is the record (DESIGN.md
invariant 1): a Redis lock would lose its keys with Redis, and a claim outside the
request's transaction could survive a request that created nothing, or vanish from one
that did.

Stored: successes (2xx, and a page form's redirect). Errors are not stored (a page sends
a form back with its errors as a 422): a retry, or the corrected form with the same
token, runs again, and creates nothing twice since the failure created nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from coordinator.database import utcnow
from coordinator.errors import PAGE_BLUEPRINTS, ErrorResponse, error_response
from coordinator.extensions import db
from coordinator.idempotency.models import IdempotencyKey

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "form_token"
MAX_KEY_LENGTH = 255
LIFETIME = timedelta(hours=24)
# Fields that differ between two sends of the same form without changing what it asks.
_NOT_PART_OF_THE_REQUEST = frozenset({"csrf_token", FORM_FIELD})
_POLL_SECONDS = 0.05


def init_app(app: Flask) -> None:
    """Install the hooks (after CSRF and the API's body checks, which run first)."""
    app.before_request(claim_or_replay)
    app.after_request(remember_answer)
    app.jinja_env.globals["form_token"] = form_token_field


def form_token_field() -> Markup:
    """A hidden field with a fresh one-time token: Back then Submit, or a double tap,
    sends the same token again and gets the first answer."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, uuid.uuid4().hex)


def _key_and_scope() -> tuple[str, str] | None:
    from coordinator.people.auth import authenticated_user

    if request.method != "POST" or request.routing_exception is not None:
        return None
    if request.blueprint in PAGE_BLUEPRINTS:
        # The server made the token (128 random bits) for one page view: it is the
        # scope itself, and holds across the login that a sign-up form performs.
        key = request.form.get(FORM_FIELD)
        return (key, "form") if key is not None else None
    if not request.path.startswith("/api/") or request.headers.get(HEADER) is None:
        return None
    user = authenticated_user()
    scope = f"user:{user.id}" if user is not None else f"anonymous:{request.remote_addr or ''}"
    return request.headers[HEADER], scope


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()


def _request_digest() -> str:
    """What the request asks, whatever the order of JSON members or form fields."""
    if request.path.startswith("/api/"):
        raw = request.get_data(cache=True)
        try:
            body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            body = raw  # a CSV upload, or no body
    else:
        fields = sorted(
            (name, value)
            for name, value in request.form.items(multi=True)
            if name not in _NOT_PART_OF_THE_REQUEST
        )
        files = sorted(
            (name, hashlib.sha256(upload.stream.read()).hexdigest())
            for name, upload in request.files.items(multi=True)
        )
        for upload in request.files.values():
            upload.stream.seek(0)
        body = json.dumps([fields, files]).encode()
    return _digest(request.method.encode(), request.full_path.encode(), body)


def _keystream_key(key: str) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"idempotency:" + key.encode(), hashlib.sha256).digest()


def seal(key: str, data: bytes) -> bytes:
    """XOR with an HMAC-SHA256 keystream keyed by the caller's key (which the table keeps
    only as a digest) and SECRET_KEY. Each row is sealed once under its own key. The same
    function opens what it sealed."""
    secret = _keystream_key(key)
    stream = bytearray()
    counter = 0
    while len(stream) < len(data):
        stream += hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def _refuse(status: int, message: str, field_message: str, code: str) -> ErrorResponse:
    if request.path.startswith("/api/"):
        return error_response(status, message, {HEADER: [field_message]}, code=code)
    # A person pressed Back, changed the form and sent it again (or is too quick).
    page_message = (
        _("This form was already sent. Open the page again to send a new one.")
        if code == "idempotency_key_reused"
        else _("This form is being sent. Wait a moment, then reload the page.")
    )
    return render_template("error.html", status=status, message=page_message), status


def claim_or_replay() -> Response | ErrorResponse | None:
    """Before the view: claim the key, or answer with the first answer."""
    found = _key_and_scope()
    if found is None:
        return None
    key, scope = found
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        return _refuse(
            422,
            _("The Idempotency-Key header must be 1 to 255 printable characters."),
            _("1 to 255 printable characters."),
            "validation_error",
        )
    key_digest = _digest(key.encode())
    request_digest = _request_digest()
    deadline = time.monotonic() + current_app.config["IDEMPOTENCY_WAIT_SECONDS"]
    while True:
        claim = IdempotencyKey(scope=scope, key_digest=key_digest, request_digest=request_digest)
        db.session.add(claim)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()  # the whole transaction: SQLite's write lock goes with it
        else:
            g.idempotency = (claim.id, key, scope, key_digest, request_digest)
            return None
        row = db.session.scalar(
            sa.select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key_digest == key_digest
            )
        )
        if row is not None and row.created_at < utcnow() - LIFETIME:
            db.session.delete(row)  # older than 24 h: the key is free again
            db.session.commit()
            continue
        if row is not None and row.request_digest != request_digest:
            db.session.rollback()
            return _refuse(
                422,
                _("This Idempotency-Key was used with another request."),
                _("Already used with another request: use a new key for a new request."),
                "idempotency_key_reused",
            )
        if row is not None and row.status is not None:
            answer = _replay(row, key)
            db.session.rollback()
            return answer
        db.session.rollback()  # end the read: the next one sees the first request's answer
        if time.monotonic() > deadline:
            return _refuse(
                409,
                _("A request with this Idempotency-Key is still being processed."),
                _("Still being processed: try again in a moment."),
                "idempotency_key_in_use",
            )
        time.sleep(_POLL_SECONDS)


def _replay(row: IdempotencyKey, key: str) -> Response:
    response = Response(
        seal(key, row.body or b""), status=row.status, content_type=row.content_type
    )
    if row.location:
        response.headers["Location"] = row.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _storable(response: Response) -> bool:
    return 200 <= response.status_code < 400


def remember_answer(response: Response) -> Response:
    """After the view: store a success with its claim; give the key back otherwise."""
    claimed = g.pop("idempotency", None)
    if claimed is None:
        return response
    claim_id, key, scope, key_digest, request_digest = claimed
    try:
        if _storable(response):
            answer = {
                "status": response.status_code,
                "location": response.headers.get("Location"),
                "content_type": response.headers.get("Content-Type"),
                "body": seal(key, response.get_data()),
            }
            stored = db.session.execute(
                sa.update(IdempotencyKey).where(IdempotencyKey.id == claim_id).values(**answer)
            ).rowcount
            if not stored:  # the view rolled its transaction back, claim and all
                db.session.add(
                    IdempotencyKey(
                        scope=scope, key_digest=key_digest, request_digest=request_digest, **answer
                    )
                )
        else:
            db.session.rollback()
            db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == claim_id))
        db.session.commit()
    except Exception:  # the answer is made; a copy sent later runs again, as with no key
        db.session.rollback()
        log.warning("storing the answer of an idempotency key failed", exc_info=True)
        _give_back(claim_id)
    return response


def _give_back(claim_id: int) -> None:
    """Free a claim the view committed without its answer, so that retries do not wait
    on it for 24 h (a claim that did get its answer is kept)."""
    try:
        db.session.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.id == claim_id, IdempotencyKey.status.is_(None)
            )
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("freeing an idempotency key failed", exc_info=True)
