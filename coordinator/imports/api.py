"""Import jobs: GET /api/v1/imports/{id} (organizers)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from coordinator.extensions import Blueprint, ErrorSchema
from coordinator.imports import operations
from coordinator.imports.models import ImportJob
from coordinator.imports.progress import status_view
from coordinator.imports.schemas import ImportAcceptedSchema, ImportSchema
from coordinator.people.auth import authenticated_user, roles_required

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="CSV imports")
BEARER = [{"bearerAuth": []}]
organizers_only = roles_required("organizer")


def _error(status: int, description: str) -> Any:  # a flask-smorest decorator
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def accepted(job: ImportJob) -> dict[str, Any]:
    """The 202 body of an upload: the import's id and where to poll it."""
    return ImportAcceptedSchema().dump(
        {
            "id": job.id,
            "status": job.status,
            "status_url": url_for("imports.get_import", import_id=job.id),
        }
    )


@blp.get("/<int:import_id>")
@organizers_only
@blp.response(200, ImportSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@_error(404, "No such import")
@blp.doc(security=BEARER)
def get_import(import_id: int) -> dict[str, Any]:
    """An uploaded file's import: its status and progress while a worker imports it, then
    the rows read, created and updated, and each bad line's messages."""
    return status_view(operations.get_import(import_id, authenticated_user().id))
