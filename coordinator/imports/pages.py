"""The status page of an upload: a progress bar while a worker imports it, then the
report per row (/organize/imports/<id>)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from coordinator.csv_import import ImportReport, decode
from coordinator.extensions import db
from coordinator.imports import operations
from coordinator.imports.progress import status_view
from coordinator.web.access import organizer_required
from coordinator.web.forms import MAX_UPLOAD_BYTES, ImportForm

bp = Blueprint("imports_pages", __name__, url_prefix="/organize")
# Where each kind of import is uploaded again.
UPLOAD_PAGES = {
    "volunteers": "people_pages.import_volunteers",
    "targets": "progress_pages.progress",
}


def start_upload(kind: str, form: ImportForm) -> ResponseReturnValue | ImportReport | None:
    """The upload step of every import page: a file too large or not UTF-8 is a field
    error (None), a wrong header a report to show at once; else the import is stored,
    and the answer is the redirect to its status page (commits)."""
    raw = form.file.data.read(MAX_UPLOAD_BYTES + 1)
    text = decode(raw) if len(raw) <= MAX_UPLOAD_BYTES else None
    if len(raw) > MAX_UPLOAD_BYTES:
        form.file.errors = [_("The file is larger than 2 MB.")]
        return None
    if text is None:
        form.file.errors = [_("Save the file as CSV in UTF-8.")]
        return None
    report = operations.header_report(kind, text)
    if report is not None:
        return report
    job = operations.request_import(
        kind, text, valid_rows_only=form.valid_rows_only.data, uploaded_by=current_user.id
    )
    db.session.commit()
    return redirect(url_for("imports_pages.import_status", import_id=job.id), 303)


@bp.get("/imports/<int:import_id>")
@organizer_required
def import_status(import_id: int) -> ResponseReturnValue:
    """An import's progress, then what it imported and each bad row."""
    job = status_view(operations.get_import(import_id, current_user.id))
    errors = sorted((int(line), messages) for line, messages in job["errors"].items())
    return render_template(
        "imports/status.html",
        job=job,
        errors=errors,
        upload_page=UPLOAD_PAGES[job["kind"]],
        imported=operations.imported_volunteers(import_id) if job["kind"] == "volunteers" else [],
    )


@bp.get("/imports/<int:import_id>/progress")
@organizer_required
def import_progress(import_id: int) -> ResponseReturnValue:
    """For the page's progress bar (the page also works without JavaScript)."""
    view = status_view(operations.get_import(import_id, current_user.id))
    return jsonify(status=view["status"], progress=view["progress"])
