"""Pages behind the links in messages: answer a proposal, unsubscribe, preferences.

The token in the URL is the credential, so these pages need no login (and no CSRF
token: a forger would need the secret token). GET only shows; POST changes.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask.typing import ResponseReturnValue

from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.notifications import answers, cover_answers, preferences, routing
from coordinator.notifications.cli import notifications_cli
from coordinator.notifications.kinds import KINDS, kinds_for
from coordinator.notifications.links import ANSWER_ACTIONS, read_recipient_token
from coordinator.notifications.planning import clock
from coordinator.notifications.texts import TEXTS

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

# Credentials in URLs, scrubbed from access logs: the links in messages, and the signature
# in the delivery-report URL each SMS carries (webhooks.py).
TOKEN_IN_PATH = re.compile(
    r"(/notifications/(?:answer|unsubscribe|preferences)/|/webhooks/esms/\d+/)[^/\s?#\"']+"
)
# eSMS's delivery report names the phone number in its query string.
PHONE_IN_QUERY = re.compile(r"([?&]phonenumber=)[^&\s\"']*", re.IGNORECASE)
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
# The channel orders a person can choose per kind of message (the first is the default).
CHANNEL_ORDERS = {
    "zalo,sms,email": ("Zalo, nếu không có thì SMS, rồi email", "Zalo, else SMS, then email"),
    "zalo,email": ("Zalo, nếu không có thì email", "Zalo, else email"),
    "sms,email": ("SMS, nếu không được thì email", "SMS, else email"),
    "email": ("Chỉ email", "Email only"),
}


@bp.after_request
def private_page(response: Response) -> Response:
    """The URL holds a secret: never send it on as a Referer, never cache the page."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _problem(status: int, code: str, message: str | None = None) -> ResponseReturnValue:
    return render_template("notifications/problem.html", code=code, message=message), status


@bp.route("/answer/<token>/<action>", methods=["GET", "POST"])
def answer(token: str, action: str) -> ResponseReturnValue:
    """Accept or decline a proposal: GET shows it with a button, POST answers."""
    if action not in ANSWER_ACTIONS:
        abort(404)
    now = clock()
    kind = cover_answers.link_kind(token)
    if kind == "cover_offer":
        return _cover_offer(token, action, now)
    if kind == "attendance_ask":
        return _attendance_ask(token, action, now)
    try:
        if request.method == "GET":
            _, assignment, session = answers.open_link(token, now)
            details = answers.describe(assignment, session)
            return render_template("notifications/answer.html", action=action, **details)
        answers.answer(token, action, now)
        db.session.commit()
    except answers.LinkProblem as problem:
        db.session.rollback()
        return _problem(problem.status, problem.code, problem.message)
    except DomainError as error:  # the proposal moved on (withdrawn, session closed)
        db.session.rollback()
        return _problem(409, "conflict", error.message)
    return render_template("notifications/answered.html", action=action)


def _cover_offer(token: str, action: str, now) -> ResponseReturnValue:
    """Take the seat someone cannot keep (or say no): GET shows it, POST answers. Once
    another volunteer took it, the link says so."""
    try:
        if request.method == "GET":
            _, _, _, details = cover_answers.open_offer(token, now)
            return render_template("notifications/cover_offer.html", action=action, **details)
        cover_answers.answer_offer(token, action, now)
        db.session.commit()
    except answers.LinkProblem as problem:
        db.session.rollback()
        return _problem(problem.status, problem.code, problem.message)
    except DomainError as error:  # the rules say no (their week filled meanwhile)
        db.session.rollback()
        return _problem(409, "conflict", error.message)
    return render_template("notifications/cover_answered.html", action=action)


def _attendance_ask(token: str, action: str, now) -> ResponseReturnValue:
    """ "I came", one tap after the session (its only action is accept)."""
    if action != "accept":
        abort(404)
    try:
        if request.method == "GET":
            _, _, _, details = cover_answers.open_ask(token, now)
            return render_template("notifications/attendance_ask.html", **details)
        cover_answers.confirm_came(token, now)
        db.session.commit()
    except answers.LinkProblem as problem:
        db.session.rollback()
        return _problem(problem.status, problem.code, problem.message)
    except DomainError as error:  # check-in closed, no longer booked
        db.session.rollback()
        return _problem(409, "conflict", error.message)
    return render_template("notifications/attendance_answered.html")


def _recipient(token: str) -> tuple[str, int]:
    recipient = read_recipient_token(token)
    if recipient is None:
        abort(404)
    return recipient


@bp.route("/unsubscribe/<token>/<kind>", methods=["GET", "POST"])
def unsubscribe(token: str, kind: str) -> ResponseReturnValue:
    """Stop one kind of message. POST is RFC 8058's one-click unsubscribe."""
    recipient_kind, recipient_id = _recipient(token)
    if kind not in KINDS or recipient_kind not in KINDS[kind].audiences:
        abort(404)
    label = {lang: TEXTS[lang][f"kind.{kind}"] for lang in TEXTS}
    if request.method == "GET":
        return render_template("notifications/unsubscribe.html", label=label, done=False)
    preferences.set_enabled(recipient_kind, recipient_id, kind, False)
    db.session.commit()
    return render_template("notifications/unsubscribe.html", label=label, done=True, token=token)


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences_page(token: str) -> ResponseReturnValue:
    """Turn each kind of message on or off."""
    recipient_kind, recipient_id = _recipient(token)
    saved = request.method == "POST"
    if saved:
        preferences.save(recipient_kind, recipient_id, set(request.form.getlist("kind")))
        for kind in kinds_for(recipient_kind):
            order = request.form.get(f"channels-{kind.code}", "")
            if order in CHANNEL_ORDERS:
                routing.set_order(recipient_kind, recipient_id, kind.code, order.split(","))
        db.session.commit()
    disabled = preferences.disabled_kinds(recipient_kind, recipient_id)
    choices = [
        {
            "code": kind.code,
            "vi": TEXTS["vi"][f"kind.{kind.code}"],
            "en": TEXTS["en"][f"kind.{kind.code}"],
            "enabled": kind.code not in disabled,
            "channels": ",".join(routing.order_for(recipient_kind, recipient_id, kind.code)),
        }
        for kind in kinds_for(recipient_kind)
    ]
    return render_template(
        "notifications/preferences.html",
        choices=choices,
        saved=saved,
        orders=CHANNEL_ORDERS,
    )


class LinkTokenFilter(logging.Filter):
    """Access logs print the request line; the token in these URLs is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        cleaned = PHONE_IN_QUERY.sub(r"\1[redacted]", TOKEN_IN_PATH.sub(r"\1[redacted]", message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = LinkTokenFilter()


def init_app(app: Flask) -> None:
    """Register the pages and the CLI, keep link tokens out of logs, exempt the pages
    from CSRF."""
    app.register_blueprint(bp)
    app.cli.add_command(notifications_cli)
    loggers = [logging.getLogger(name) for name in ACCESS_LOGGERS]
    for target in [*loggers, *(h for lg in [*loggers, logging.getLogger()] for h in lg.handlers)]:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    csrf = app.extensions.get("csrf")
    if csrf is not None:  # a mail client's one-click POST carries no CSRF token
        csrf.exempt(bp)
