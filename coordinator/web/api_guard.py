"""Request checks shared by the JSON API blueprints."""

from __future__ import annotations

from flask import request

from coordinator.errors import error_response


def require_json_bodies():
    """A body on a write must be JSON: 415 with a field message otherwise."""
    if (
        request.path.startswith("/api/")
        and request.method in ("POST", "PUT", "PATCH")
        and request.content_length
        and not request.is_json
    ):
        return error_response(
            415,
            "Cần Content-Type: application/json / Send JSON with Content-Type application/json.",
            {"content_type": [f"Expected application/json, got {request.mimetype or 'none'}."]},
        )
    return None
