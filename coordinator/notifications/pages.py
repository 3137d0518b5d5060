"""Pages behind the links in messages: answer a proposal, unsubscribe, preferences.

The token in the URL is the credential, so these pages need no login (and no CSRF
token: a forger would need the secret token). GET only shows; POST changes.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.notifications import (
    answers,
    choices,
    cover_answers,
    organizer_pages,
    preferences,
)
from coordinator.notifications.cli import notifications_cli
from coordinator.notifications.kinds import kinds_for
from coordinator.notifications.links import ANSWER_ACTIONS, read_recipient_token
from coordinator.notifications.planning import clock
from coordinator.notifications.texts import MESSAGES, stored_reason

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
# The short link of an SMS or a Zalo message: /n/<token>, the answer links' token.
short_bp = Blueprint("notification_links", __name__)

# Credentials in URLs, scrubbed from access logs: the links in messages, and the signature
# in the delivery-report URL each SMS carries (webhooks.py).
TOKEN_IN_PATH = re.compile(
    r"(/notifications/(?:answer|unsubscribe|preferences)/|/n/|/webhooks/esms/\d+/)[^/\s?#\"']+"
)
# eSMS's delivery report names the phone number in its query string.
PHONE_IN_QUERY = re.compile(r"([?&]phonenumber=)[^&\s\"']*", re.IGNORECASE)
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


@bp.after_request
@short_bp.after_request
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
    """A one-tap answer: GET shows the booking with a button, POST acts."""
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
            link = answers.open_link(token, now)
            return render_template(
                "notifications/answer.html",
                actions=[action],
                token=token,
                **answers.describe(link),
            )
        link = answers.answer(token, action, now)
        db.session.commit()
    except answers.LinkProblem as problem:
        db.session.rollback()
        return _link_problem(problem)
    except DomainError as error:  # the booking moved on (withdrawn, session closed)
        db.session.rollback()
        return _problem(409, "conflict", error.message)
    return render_template("notifications/answered.html", action=action, kind=link.kind)


def _link_problem(problem: answers.LinkProblem) -> ResponseReturnValue:
    """A used link shows the answer it gave (200: nothing is wrong); others explain."""
    if problem.code == "used" and problem.action:
        return render_template(
            "notifications/answered.html", action=problem.action, kind=problem.kind, again=True
        )
    return _problem(problem.status, problem.code, problem.message)


@short_bp.get("/n/<token>")
def choice(token: str) -> ResponseReturnValue:
    """The short link in an SMS or a Zalo message: the booking with both answers."""
    try:
        link = answers.open_link(token, clock())
    except answers.LinkProblem as problem:
        db.session.rollback()
        return _link_problem(problem)
    return render_template(
        "notifications/answer.html",
        actions=list(ANSWER_ACTIONS),
        token=token,
        **answers.describe(link),
    )


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
    if kind not in {k.code for k in kinds_for(recipient_kind)}:
        abort(404)
    label = gettext(MESSAGES[f"kind.{kind}"])  # the page's language
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
        enabled = set(request.form.getlist("kind"))
        for kind in kinds_for(recipient_kind):
            order = request.form.get(f"channels-{kind.code}")
            if order not in choices.orders_for(kind.code):
                order = None  # not a choice this kind offers: left as it was
            choices.change(recipient_kind, recipient_id, kind.code, kind.code in enabled, order)
        db.session.commit()
    return render_template(
        "notifications/preferences.html",
        choices=choices.current(recipient_kind, recipient_id),
        saved=saved,
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
    app.register_blueprint(short_bp)
    app.register_blueprint(organizer_pages.bp)  # behind a login, with CSRF as usual
    app.cli.add_command(notifications_cli)
    # The audit shows reasons the system recorded (a one-tap withdrawal) in one language.
    app.jinja_env.filters["stored_reason"] = stored_reason
    loggers = [logging.getLogger(name) for name in ACCESS_LOGGERS]
    for target in [*loggers, *(h for lg in [*loggers, logging.getLogger()] for h in lg.handlers)]:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    csrf = app.extensions.get("csrf")
    if csrf is not None:  # a mail client's one-click POST carries no CSRF token
        csrf.exempt(bp)
        csrf.exempt(short_bp)
