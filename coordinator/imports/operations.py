"""Import jobs: store an uploaded file with the event that starts its job; run the import
on a worker; read where it is. Flushes; the request or the job commits."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from coordinator.csv_import import ImportReport, header_problem
from coordinator.database import utcnow
from coordinator.errors import NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.imports.models import IMPORT_KINDS, ImportJob
from coordinator.people import imports as volunteers
from coordinator.people.models import MAX_ID, User, Volunteer
from coordinator.people.scopes import current_scope, scope_of
from coordinator.progress import targets
from coordinator.text import vietnamese_name_key

log = logging.getLogger(__name__)
Progress = Callable[[float], None]


class Importer(Protocol):
    def __call__(
        self, text: str, *, valid_rows_only: bool = ..., progress: Progress | None = ...
    ) -> ImportReport: ...


IMPORTERS: dict[str, Importer] = {
    "volunteers": volunteers.import_volunteers,
    "targets": targets.import_targets,
}
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "volunteers": (volunteers.COLUMNS, volunteers.REQUIRED),
    "targets": (targets.TARGET_COLUMNS, targets.TARGET_REQUIRED),
}
# Column labels a file may use instead of the codes (a template filled in Vietnamese).
HEADER_ALIASES: dict[str, dict[str, str]] = {"volunteers": volunteers.HEADER_ALIASES}


def header_report(kind: str, text: str) -> ImportReport | None:
    """A report with the header's problem on line 1, or None when the header is right:
    checked in the request, so a wrong file is refused at once."""
    columns, required = COLUMNS[kind]
    problem = header_problem(
        text, columns=columns, required=required, aliases=HEADER_ALIASES.get(kind)
    )
    if problem is None:
        return None
    report = ImportReport()
    report.add(1, problem)
    return report


def request_import(
    kind: str, text: str, *, valid_rows_only: bool = False, uploaded_by: int | None = None
) -> ImportJob:
    """A queued import of `text` and the outbox event that starts its job after commit."""
    if kind not in IMPORT_KINDS:
        raise ValueError(f"not an import kind: {kind}")
    job = ImportJob(
        kind=kind,
        status="queued",
        valid_rows_only=valid_rows_only,
        uploaded_by=uploaded_by,
        file_text=text,
        errors={},
        result={},
    )
    db.session.add(job)
    db.session.flush()
    event = outbox.record(
        "import.requested", "import_job", job.id, {"import_id": job.id, "kind": kind}
    )
    db.session.flush()
    job.event_id = event.id
    return job


def get_import(import_id: int, viewer_id: int | None = None) -> ImportJob:
    """The import job, or 404. An organizer with units (not national) sees only their own
    uploads: a report names the rows of the file."""
    job = db.session.get(ImportJob, import_id) if 0 < import_id <= MAX_ID else None
    if job is None or not (current_scope().national or job.uploaded_by == viewer_id):
        raise NotFound(_l("Import not found."))
    return job


def _importer(job: ImportJob) -> Importer:
    """The job's importer; a targets file imports only the uploader's units."""
    if job.kind != "targets" or job.uploaded_by is None:
        return IMPORTERS[job.kind]
    scope = scope_of(db.session.get(User, job.uploaded_by))
    return functools.partial(targets.import_targets, scope=scope)


def execute(import_id: int, progress: Progress | None = None) -> ImportJob | None:
    """Import a queued (or interrupted) file; a finished or failed one is left alone, so
    a second run of the job imports nothing twice."""
    job = db.session.get(ImportJob, import_id, with_for_update=True)
    if job is None or job.status in ("finished", "failed"):
        return job
    if job.status == "queued":
        job.status, job.started_at = "running", utcnow()
        # Commit now (the job commits the rest), so the page shows "running" and the
        # row's lock (SQLite's whole database) is not held while the rows are read.
        db.session.commit()
    importer, text, valid_rows_only = _importer(job), job.file_text or "", job.valid_rows_only
    uploader = db.session.get(User, job.uploaded_by) if job.uploaded_by else None
    try:
        # The report's words in the language of the organizer who reads it.
        with force_locale(uploader.locale if uploader is not None else "vi"):
            report = importer(text, valid_rows_only=valid_rows_only, progress=progress)
    except Exception as exc:  # record it (and drop the file) rather than retry forever
        log.exception("import %s failed", import_id)
        db.session.rollback()
        failed = db.session.get(ImportJob, import_id, with_for_update=True)
        assert failed is not None  # it was there a moment ago; imports are never deleted
        failed.status, failed.error, failed.finished_at = "failed", str(exc)[:500], utcnow()
        failed.file_text = None
        return failed
    job.status, job.finished_at = "finished", utcnow()
    job.rows, job.created, job.updated = report.rows, report.created, report.updated
    job.errors = {str(line): messages for line, messages in sorted(report.errors.items())}
    job.result = {"ids": report.created_ids} if report.created_ids else {}
    job.file_text = None  # names and phones: kept no longer than the import needs them
    return job


def import_view(job: ImportJob) -> dict[str, Any]:
    """The job's fields a page or the API shows (never the file itself)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "valid_rows_only": job.valid_rows_only,
        "rows": job.rows,
        "created": job.created,
        "updated": job.updated,
        "errors": job.errors,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def imported_volunteers(import_id: int) -> list[Volunteer]:
    """The volunteers a finished import created, in Vietnamese order of their names."""
    job = db.session.get(ImportJob, import_id)
    ids = (job.result or {}).get("ids", []) if job is not None else []
    if job is None or job.kind != "volunteers" or not ids:
        return []
    found = db.session.scalars(sa.select(Volunteer).where(Volunteer.id.in_(ids))).all()
    return sorted(found, key=lambda v: vietnamese_name_key(v.full_name))
