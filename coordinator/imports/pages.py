"""The status page of an upload: a progress bar while a worker imports it, then the
report per row (/organize/imports/<id>)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from coordinator.imports import operations
from coordinator.imports.progress import status_view
from coordinator.web.access import organizer_required

bp = Blueprint("imports_pages", __name__, url_prefix="/organize")
# Where each kind of import is uploaded again.
UPLOAD_PAGES = {
    "volunteers": "people_pages.import_volunteers",
    "targets": "progress_pages.progress",
}


@bp.get("/imports/<int:import_id>")
@organizer_required
def import_status(import_id: int) -> ResponseReturnValue:
    """An import's progress, then what it imported and each bad row."""
    job = status_view(operations.get_import(import_id))
    errors = sorted((int(line), messages) for line, messages in job["errors"].items())
    return render_template(
        "imports/status.html", job=job, errors=errors, upload_page=UPLOAD_PAGES[job["kind"]]
    )


@bp.get("/imports/<int:import_id>/progress")
@organizer_required
def import_progress(import_id: int) -> ResponseReturnValue:
    """For the page's progress bar (the page also works without JavaScript)."""
    view = status_view(operations.get_import(import_id))
    return jsonify(status=view["status"], progress=view["progress"])
