"""Progress towards the targets and volunteers' hours: /api/v1/progress, /api/v1/hours
(organizers)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator.csv_import import decode
from coordinator.errors import Invalid, error_response
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.imports import operations as import_jobs
from coordinator.imports.api import accepted
from coordinator.imports.schemas import ImportAcceptedSchema
from coordinator.paging import PAGE_HEADERS, page_headers
from coordinator.people.auth import authenticated_user, roles_required
from coordinator.people.scopes import scope_of
from coordinator.progress import exports, hours, hours_kept, levels, operations
from coordinator.progress.schemas import (
    HoursArgs,
    HoursPageArgs,
    ProgressArgs,
    ProgressPageArgs,
    TargetProgressSchema,
    TargetsImportArgs,
    VolunteerHoursSchema,
    progress_body,
)
from coordinator.replica import reads_replica
from coordinator.web.api_guard import accepts_body

blp = Blueprint(
    "progress",
    __name__,
    url_prefix="/api/v1",
    description="Progress towards the movement's targets; volunteers' hours",
)
BEARER = [{"bearerAuth": []}]
organizers_only = roles_required("organizer")
CSV_BODY = {"type": "string", "format": "binary"}
TARGETS_EXAMPLE = (
    "unit,target_group,year,baseline,target_percent,reached_before\n"
    "00226,residents,2026,12000,80,1500\n"
    "01,students,2026,250000,,0\n"
)


def _error(status: int, description: str):
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _report(args: dict[str, Any]) -> operations.ProgressReport:
    return operations.progress(
        args.get("year"),
        ward=args.get("ward"),
        unit=args.get("unit"),
        level=args["level"],
        target_group=args.get("target_group"),
        scope=scope_of(authenticated_user()),
    )


@blp.get("/progress")
@organizers_only
@blp.arguments(ProgressPageArgs, location="query")
@blp.response(200, TargetProgressSchema, headers=PAGE_HEADERS)
@_error(401, "Not logged in")
@_error(403, "Not an organizer, or a unit or level outside the caller's units")
@blp.doc(security=BEARER)
@reads_replica
def get_progress(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """reached / enrolled / target per unit and target group (organizers).

    For one plan year (default: this year in Asia/Ho_Chi_Minh), at level ward (default),
    province or national, within the caller's units, with totals per unit, per target
    group and overall. Figures of units that ended (merged or split) count in the current
    unit they roll up into, named under `includes`. A unit's own target wins over the sum
    of its parts' (`target_source`). Pairs with participants but no target have null
    baseline, target and remaining. A page of `rows` at a time (by unit, then group):
    the number of rows in X-Total-Count, the next page in Link; `totals.by_unit` covers
    the units on the page, `by_group` and `overall` every row.
    """
    limit, offset = args["limit"], args["offset"]
    page, total = levels.progress_page(
        args.get("year"),
        ward=args.get("ward"),
        unit=args.get("unit"),
        level=args["level"],
        target_group=args.get("target_group"),
        scope=scope_of(authenticated_user()),
        limit=limit,
        offset=offset,
    )
    return jsonify(progress_body(page)), 200, page_headers(total, limit, offset)


@blp.get("/progress.csv")
@organizers_only
@blp.arguments(ProgressArgs, location="query")
@blp.response(200, CSV_BODY, content_type="text/csv", description="One line per ward and group")
@_error(401, "Not logged in")
@_error(403, "Not an organizer, or a unit or level outside the caller's units")
@blp.doc(security=BEARER)
@reads_replica
def get_progress_csv(args: dict[str, Any]) -> Response:
    """The same figures as CSV (no personal data)."""
    report = _report(args)
    return exports.csv_response(exports.progress_csv(report), f"progress-{report.year}.csv")


@blp.post("/progress/targets")
@accepts_body("text/csv")
@organizers_only
@blp.arguments(TargetsImportArgs, location="query")
@blp.response(202, ImportAcceptedSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@_error(415, "The body is not text/csv")
@blp.doc(
    security=BEARER,
    requestBody={
        "required": True,
        "description": "CSV (UTF-8) with the columns ward (or unit: a ward's or a "
        "province's code), target_group, year, baseline, target_percent (empty: the "
        "movement's default for the group) and optionally reached_before.",
        "content": {"text/csv": {"schema": CSV_BODY, "example": TARGETS_EXAMPLE}},
    },
)
def import_targets(args: dict[str, Any]) -> ResponseReturnValue:
    """Import population baselines and targets from a CSV body (organizers).

    Send the file as the body with Content-Type text/csv. The body's encoding and header
    are checked at once (422, the header's problem under `messages` on line "1"); the
    rows are imported by a worker: 202 with the import's id and `status_url`, GET it for
    the progress and the report. Rows are keyed by (ward, target_group, year): a new key
    is created, a known one replaced. A file with any bad row imports nothing; the import
    then lists each line's messages under `errors` (line number -> messages). With
    valid_rows_only=true the valid rows are imported and the bad ones still listed.
    """
    if request.mimetype != "text/csv":
        return error_response(
            415,
            _("Send the CSV with Content-Type text/csv."),
            {
                "content_type": [
                    _("Expected text/csv, got %(type)s.", type=request.mimetype or "none")
                ]
            },
        )
    text = decode(request.get_data())
    if text is None:
        raise Invalid.field("_body", _("The file must be UTF-8."))
    report = import_jobs.header_report("targets", text)
    if report is not None:
        return error_response(
            422,
            _("The file has bad rows; nothing was imported."),
            {str(line): messages for line, messages in sorted(report.errors.items())},
        )
    job = import_jobs.request_import(
        "targets",
        text,
        valid_rows_only=args["valid_rows_only"],
        uploaded_by=authenticated_user().id,
    )
    db.session.commit()
    return jsonify(accepted(job)), 202


@blp.get("/hours")
@organizers_only
@blp.arguments(HoursPageArgs, location="query")
@blp.response(200, VolunteerHoursSchema, headers=PAGE_HEADERS)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@blp.doc(security=BEARER)
@reads_replica
def get_hours(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """Volunteers' hours by volunteer or by squad (organizers).

    Lengths of sessions that have ended and were not cancelled, per confirmed booking
    recorded as attended or late (or not recorded); `no_shows` per volunteer; a squad's
    hours are the person-hours of the bookings made with it. Most first (then by name
    and id), a page of `rows` at a time: the number of rows in X-Total-Count, the next
    page in Link; `total_hours` is over every page.
    """
    limit, offset = args["limit"], args["offset"]
    page = hours_kept.hours_page(args["by"], args.get("year"), limit=limit, offset=offset)
    body = VolunteerHoursSchema().dump(
        {
            "by": args["by"],
            "year": args.get("year"),
            "rows": page.rows,
            "total_hours": page.total_hours,
        }
    )
    return jsonify(body), 200, page_headers(page.total, limit, offset)


@blp.get("/hours.csv")
@organizers_only
@blp.arguments(HoursArgs, location="query")
@blp.response(200, CSV_BODY, content_type="text/csv", description="One line per volunteer/squad")
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@blp.doc(security=BEARER)
@reads_replica
def get_hours_csv(args: dict[str, Any]) -> Response:
    """The same hours as CSV, every row (streamed as it is read)."""
    rows = hours.iter_hours(args["by"], args.get("year"))
    return exports.csv_response(
        exports.hours_csv(args["by"], rows), exports.hours_filename(args["by"], args.get("year"))
    )
