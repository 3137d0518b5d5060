"""Matching runs: /api/v1/matching/runs (organizers)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.geography.operations import require_ward
from coordinator.matching import operations
from coordinator.matching.models import MatchingRun
from coordinator.matching.progress import run_in_words
from coordinator.matching.schemas import (
    RunAcceptedSchema,
    RunRequestSchema,
    RunSchema,
    RunSummarySchema,
)
from coordinator.paging import PAGE_HEADERS, PageArgs, limit_field, page_headers
from coordinator.people.auth import authenticated_user, roles_required

blp = Blueprint("matching", __name__, url_prefix="/api/v1/matching", description="Matching runs")
BEARER = [{"bearerAuth": []}]
organizers_only = roles_required("organizer")


class RunListArgs(PageArgs):
    limit = limit_field(default=operations.RECENT_RUNS)


def _error(status: int, description: str) -> Any:  # a flask-smorest decorator
    return blp.alt_response(status, schema=ErrorSchema, description=description)


@blp.post("/runs")
@organizers_only
@blp.arguments(RunRequestSchema, required=False)
@blp.response(202, RunAcceptedSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer")
@blp.doc(security=BEARER)
def start_run(data: dict[str, Any]) -> tuple[Response, int]:
    """Plan proposals for the sessions of a window (default: the next 31 days); the work
    runs on an RQ worker. Poll the run for progress and proposals."""
    ward = require_ward(data["ward"]).code if data.get("ward") else None
    run = operations.start_run(
        ward, authenticated_user().id, window_from=data.get("from_"), window_to=data.get("to")
    )
    db.session.commit()
    return jsonify(RunAcceptedSchema().dump(run)), 202


@blp.get("/runs/<int:run_id>")
@organizers_only
@blp.response(200, RunSchema)
@_error(404, "No such run")
@blp.doc(security=BEARER)
def get_run(run_id: int) -> dict[str, Any]:
    """A run: its status and progress, then its proposals with their reasons and the
    roles it could not fill with the reason nothing fits."""
    return run_in_words(operations.get_run(run_id))


@blp.get("/runs")
@organizers_only
@blp.arguments(RunListArgs, location="query")
@blp.response(200, RunSummarySchema(many=True), headers=PAGE_HEADERS)
@blp.doc(security=BEARER)
def list_runs(args: dict[str, Any]) -> tuple[list[MatchingRun], int, dict[str, str]]:
    """The runs of the caller's units, newest first, a page at a time (default 50): the
    total in X-Total-Count, the next page in Link."""
    limit, offset = args["limit"], args["offset"]
    runs, total = operations.runs_page(limit, offset)
    return runs, 200, page_headers(total, limit, offset)
