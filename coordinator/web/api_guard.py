"""Request checks shared by the JSON API blueprints."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from flask_babel import gettext as _

from coordinator.errors import ErrorResponse, error_response

# Ids in paths name rows of INTEGER columns; a larger number names nothing (and SQLite
# cannot even bind it), so it is a 404 before any view runs.
MAX_ID = 2**31 - 1
_View = TypeVar("_View", bound=Callable[..., Any])


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def accepts_body(*mimetypes: str) -> Callable[[_View], _View]:
    """Mark a view that takes a body of these types instead of JSON (a CSV upload)."""

    def mark(view: _View) -> _View:
        view.accepted_bodies = frozenset(mimetypes)
        return view

    return mark


def require_json_bodies() -> ErrorResponse | None:
    """A body on a write must be JSON (415 otherwise) and must parse (400 otherwise),
    unless the view says it takes this type (accepts_body). A request that routes
    nowhere keeps its 404 or 405: the body of a request that cannot be served is moot."""
    if request.routing_exception is not None or not (
        request.path.startswith("/api/")
        and request.method in ("POST", "PUT", "PATCH")
        and _has_body()
    ):
        return None
    view = current_app.view_functions.get(request.endpoint)
    if request.mimetype in getattr(view, "accepted_bodies", ()):
        return None
    if not request.is_json:
        return error_response(
            415,
            _("Send JSON with Content-Type application/json."),
            {
                "content_type": [
                    _("Expected application/json, got %(type)s.", type=request.mimetype or "none")
                ]
            },
        )
    try:
        json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return error_response(
            400,
            _("The body is not valid JSON."),
            {"_json": [_("Invalid JSON body.")]},
        )
    return None


def reject_out_of_range_ids() -> ErrorResponse | None:
    """404 for an integer path argument beyond the id columns' range."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            return error_response(404, _("Not found."))
    return None
