"""Matching pages for organizers: start a run, follow its progress, read its proposals
(/organize/matching, /organize/runs/...)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from coordinator.extensions import db
from coordinator.geography.operations import require_ward
from coordinator.matching import operations as matching
from coordinator.matching.models import MatchingRun
from coordinator.matching.progress import run_in_words, run_view
from coordinator.matching.reasons import reasons_text
from coordinator.paging import Page, page_args
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from coordinator.web.access import organizer_required
from coordinator.web.forms import REFUSED, EmptyForm, commit, ward_choices

bp = Blueprint("matching_pages", __name__, url_prefix="/organize")


@bp.app_template_filter("reasons")
def reasons_filter(stored: list[str] | None) -> list[str]:
    """A proposal's reasons (codes) in the page's language."""
    return reasons_text(stored or ())


RUNS_PAGE = 20  # runs a page


@bp.route("/matching", methods=["GET", "POST"])
@organizer_required
def matching_runs() -> ResponseReturnValue:
    """The latest runs, and a button to start one (for the district or one ward)."""
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        ward = request.form.get("ward") or None

        def start() -> MatchingRun:
            return matching.start_run(require_ward(ward).code if ward else None, current_user.id)

        run = commit(start)
        if run is not REFUSED:
            return redirect(url_for("matching_pages.run_detail", run_id=run.id))
    limit, offset = page_args(RUNS_PAGE)
    runs, total = matching.runs_page(limit, offset)
    return render_template(
        "matching/runs.html",
        runs=runs,
        page=Page(total, limit, offset, len(runs)),
        wards=ward_choices(),
        form=form,
    )


def _run_context(run_id: int) -> dict:
    view = run_in_words(matching.get_run(run_id))
    names = dict(
        db.session.execute(
            sa.select(Volunteer.id, Volunteer.full_name).where(
                Volunteer.id.in_({p["volunteer_id"] for p in view["proposals"]})
            )
        ).all()
    )
    titles = dict(
        db.session.execute(
            sa.select(TrainingSession.id, TrainingSession.title).where(
                TrainingSession.id.in_(
                    {p["session_id"] for p in view["proposals"] + view["unfilled_detail"]}
                )
            )
        ).all()
    )
    return {"run": view, "names": names, "titles": titles}


@bp.get("/runs/<int:run_id>")
@organizer_required
def run_detail(run_id: int) -> ResponseReturnValue:
    """A run's status, its proposals and the seats it left unfilled."""
    return render_template("matching/run.html", **_run_context(run_id))


@bp.get("/runs/<int:run_id>/progress")
@organizer_required
def run_progress(run_id: int) -> ResponseReturnValue:
    """For the page's progress bar (the page also works without JavaScript)."""
    view = run_view(matching.get_run(run_id))
    return jsonify(status=view["status"], progress=view["progress"])
