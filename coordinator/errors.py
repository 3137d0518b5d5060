"""Domain errors and the one place that turns any error into the contract's JSON shape.

`{"error": "<code>", "message": "...", "messages": {"field": ["..."]}}`
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

import marshmallow as ma
from flask import Flask, Response, has_request_context, jsonify, render_template, request
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from coordinator.extensions import db

log = logging.getLogger(__name__)


# "Vietnamese words / English words": how messages were written before they moved into
# the catalogue. Until each has, a person reads only the half in their language.
# Only whole sentences are split: "Không rõ / Unknown: telepathy" keeps its detail whole.
_BILINGUAL = re.compile(r"^(?P<vi>.*[^\x00-\x7f].*) / (?P<en>[\x00-\x7f]+[.!?)])$", re.S)


def _whole(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in ("()", "[]", "{}"))


def joined(parts: Iterable[str | LazyString], separator: str = " ") -> LazyString:
    """Messages (lazy msgids among them) put together when read, each part in the
    reader's language: a msgid is never built from pieces."""
    kept = tuple(parts)
    return LazyString(lambda: separator.join(str(part) for part in kept))


def for_reader(message: Any) -> Any:
    """A message as its reader reads it: lazy msgids translated now (in the request's
    language), nested messages too, a "vi / en" message cut to one half."""
    if isinstance(message, LazyString):
        message = str(message)
    if isinstance(message, dict):
        return {key: for_reader(value) for key, value in message.items()}
    if isinstance(message, list | tuple):
        return [for_reader(value) for value in message]
    return in_one_language(message)


def in_one_language(message: Any) -> Any:
    """The half of a "vi / en" message in the reader's language (nested messages too);
    any other message as it is."""
    if isinstance(message, dict):
        return {key: in_one_language(value) for key, value in message.items()}
    if isinstance(message, list | tuple):
        return [in_one_language(value) for value in message]
    if not isinstance(message, str):
        return message
    halves = _BILINGUAL.match(message)
    if halves is None or not has_request_context():  # a command line reads both
        return message
    # Only a message made of two whole sentences splits: "(trùng giờ / overlaps)." inside
    # one sentence would leave each reader half a bracket.
    if not all(_whole(halves[lang]) for lang in ("vi", "en")):
        return message
    english = str(get_locale() or "vi") == "en"
    return halves["en"] if english else halves["vi"]


class DomainError(Exception):
    """A rule of the domain said no; views never catch it, the handler renders it.
    Messages are English msgids, lazily translated (`_l`), so they are read in the
    reader's language when `message` and `messages` are read (for_reader)."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str | LazyString,
        messages: dict[str, Any] | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self._message = message
        self._messages = messages or {}
        # Further top-level members of the error body (e.g. `rules` of an outside_rules).
        self.details = details or {}
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return str(for_reader(self._message))

    @property
    def messages(self) -> dict[str, Any]:
        return dict(for_reader(self._messages))


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule (unknown ward, end before start)."""

    status = 422
    code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str | LazyString) -> Invalid:
        """An error about one field."""
        return cls(message, {name: [message]})


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}
# What a status says when nothing more particular was said (werkzeug's descriptions are
# English prose).
HTTP_MESSAGES = {
    400: _l("The request is not valid."),
    401: _l("Authentication required."),
    403: _l("You are not allowed to do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    409: _l("Conflicts with existing data."),
    413: _l("The request is too large."),
    415: _l("This content type is not accepted here."),
    422: _l("The input is invalid."),
    429: _l("Too many requests; try again later."),
    500: _l("Internal server error."),
    503: _l("The service is unavailable for a moment."),
}
# An error answer and its status: the contract's JSON, or the HTML error page (a str)
# for people on the web pages.
ErrorResponse: TypeAlias = tuple[Response | str, int]


def error_response(
    status: int,
    message: str | LazyString,
    messages: dict[str, Any] | None = None,
    code: str | None = None,
    details: dict[str, Any] | None = None,
) -> ErrorResponse:
    """Build the contract's error body (an HTML page for people on the web pages)."""
    message, messages = str(for_reader(message)), for_reader(messages)
    if _wants_page():
        return render_template("error.html", status=status, message=message), status
    body: dict[str, Any] = {"error": code or HTTP_CODES.get(status, "error"), "message": message}
    if messages:
        body["messages"] = messages
    body.update((key, value) for key, value in (details or {}).items() if key not in body)
    return jsonify(body), status


# The blueprints of the HTML pages (registered in create_app); the notification links'
# pages answer their own problems and the calendar feeds are not pages.
PAGE_BLUEPRINTS = frozenset(
    {
        "pages",
        "auth",
        "password_reset",
        "registration_pages",
        "sessions_pages",
        "bookings_pages",
        "people_pages",
        "matching_pages",
        "imports_pages",
        "participants_pages",
        "progress_pages",
        "squads_pages",
        "geography_pages",
        "admin",
        "notification_costs",
    }
)


def _wants_page() -> bool:
    """A page's error, or a browser asking for an unknown page: HTML. API, feeds and
    programs keep the contract's JSON."""
    if not has_request_context():
        return False
    if request.blueprint in PAGE_BLUEPRINTS:
        return True
    if request.blueprint is not None or request.path.startswith(("/api/", "/calendar/")):
        return False
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def _is_csrf(error: HTTPException) -> bool:
    return isinstance(error, CSRFError)


def flatten_webargs_messages(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); clients want fields."""
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[f"_{location}"] = errors
    return flat


def handle_http_exception(error: HTTPException) -> ErrorResponse:
    """Render werkzeug/webargs HTTP errors as contract JSON."""
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        messages = flatten_webargs_messages(messages)
    status = error.code or 500
    if _wants_page():  # werkzeug's descriptions are English prose: say it in the page's words
        return render_template(
            "error.html", status=status, message=None, csrf=_is_csrf(error)
        ), status
    # A description of the code's own; werkzeug's stock one is read in the reader's words.
    # (Flask-Limiter's description is the limit itself, "3 per 1 minute".)
    own = error.description if error.description != type(error).description else None
    message = data.get("message") or (own if status != 429 else None)
    message = message or HTTP_MESSAGES.get(status) or error.name
    if status == 400 and messages and "_json" in messages:
        message = _("The body is not valid JSON.")
    response, status = error_response(status, message, messages)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if hasattr(error, "get_headers"):
        for name, value in error.get_headers():
            if name.lower() not in ("content-type",):
                response.headers[name] = value
    return response, status


def handle_domain_error(error: DomainError) -> ErrorResponse:
    return error_response(error.status, error.message, error.messages, error.code, error.details)


def handle_validation_error(error: ma.ValidationError) -> ErrorResponse:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return error_response(422, _("The input is invalid."), messages)


def handle_data_error(error: DataError) -> ErrorResponse:
    """A value the database cannot hold (a NUL character, an out-of-range number): the
    input's fault, so 422 rather than 500. The statement is not logged: it holds input."""
    log.warning("database refused a value: %s", type(error.orig).__name__)
    return error_response(422, _("A value cannot be stored."), {"_schema": [_("Invalid value.")]})


def handle_integrity_error(error: IntegrityError) -> ErrorResponse:
    """A constraint said no (typically two requests racing for the same slot): 409."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    log.warning("integrity error: %s %s", type(error.orig).__name__, constraint or "")
    return error_response(409, _("Conflicts with existing data."), code="conflict")


def handle_database_unavailable(error: DBAPIError) -> ErrorResponse:
    if isinstance(error, OperationalError) or error.connection_invalidated:
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return error_response(503, _("The database is unavailable for a moment."))
    return handle_unexpected(error)


def handle_unexpected(error: Exception) -> ErrorResponse:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, _("Internal server error."))


_E = TypeVar("_E", bound=Exception)


def _rolling_back(handler: Callable[[_E], ErrorResponse]) -> Callable[[_E], ErrorResponse]:
    """An error response means no change: drop whatever the request flushed."""

    @functools.wraps(handler)
    def wrapper(error: _E) -> ErrorResponse:
        try:
            db.session.rollback()
        except Exception:  # the database may be the thing that failed
            log.warning("rollback after error failed", exc_info=True)
        return handler(error)

    return wrapper


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; flask-smorest's own HTTPException handler is replaced."""
    app.register_error_handler(HTTPException, _rolling_back(handle_http_exception))
    app.register_error_handler(DomainError, _rolling_back(handle_domain_error))
    app.register_error_handler(ma.ValidationError, _rolling_back(handle_validation_error))
    app.register_error_handler(DataError, _rolling_back(handle_data_error))
    app.register_error_handler(IntegrityError, _rolling_back(handle_integrity_error))
    app.register_error_handler(DBAPIError, _rolling_back(handle_database_unavailable))
    app.register_error_handler(Exception, _rolling_back(handle_unexpected))
