"""Organizers' pages for progress towards the targets (table, SVG charts, CSV export,
targets upload) and volunteers' hours (table, CSV export): /organize/progress, /hours."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from coordinator.csv_import import ImportReport
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.imports.pages import start_upload
from coordinator.progress import exports, hours, operations, targets
from coordinator.progress.charts import bar_chart
from coordinator.progress.forms import HoursFilterForm, ProgressFilterForm
from coordinator.web.access import organizer_required
from coordinator.web.forms import ImportForm, options, vocabulary_choices

bp = Blueprint("progress_pages", __name__, url_prefix="/organize")


def _query(*names: str) -> dict[str, str]:
    """The filters of this page in the query string, for the CSV link (and nothing else:
    url_for reads some underscore names as options)."""
    return {name: request.args[name] for name in names if request.args.get(name)}


def _ward_names() -> dict[str, str]:
    english = str(get_locale()) == "en"
    return {
        w.code: (w.name_en if english and w.name_en else w.name)
        for w in db.session.scalars(sa.select(Ward).order_by(Ward.name))
    }


def _filter_form(wards: dict[str, str], groups: dict[str, str]) -> ProgressFilterForm:
    form = ProgressFilterForm(formdata=request.args)
    form.ward.choices = options([("", _("All wards")), *wards.items()])
    form.target_group.choices = options([("", _("All groups")), *groups.items()])
    return form


def _filters(form: ProgressFilterForm) -> dict:
    """The chosen filters; a bad one is shown with its error and left out."""
    form.validate()
    return {
        "year": None if form.year.errors else form.year.data,
        "ward": None if form.ward.errors else form.ward.data or None,
        "target_group": None if form.target_group.errors else form.target_group.data or None,
    }


def _progress_page(
    import_form: ImportForm, report: ImportReport | None = None, status: int = 200
) -> ResponseReturnValue:
    wards = _ward_names()
    groups = dict(vocabulary_choices("target_group"))
    form = _filter_form(wards, groups)
    figures = operations.progress(**_filters(form))
    ward_chart = bar_chart(
        [(wards.get(k, k), v.reached, v.target) for k, v in figures.by_ward.items()]
    )
    group_chart = bar_chart(
        [(groups.get(k, k), v.reached, v.target) for k, v in figures.by_group.items()]
    )
    return render_template(
        "progress/progress.html",
        form=form,
        figures=figures,
        wards=wards,
        groups=groups,
        ward_chart=ward_chart,
        group_chart=group_chart,
        import_form=import_form,
        report=report,
        columns=targets.TARGET_COLUMNS,
        query=_query("year", "ward", "target_group"),
    ), 422 if form.errors else status


@bp.get("/progress")
@organizer_required
def progress() -> ResponseReturnValue:
    """Reached / enrolled / target per ward and group, as a table and as charts."""
    return _progress_page(ImportForm())


@bp.post("/progress/targets")
@organizer_required
def import_targets() -> ResponseReturnValue:
    """Upload baselines and targets: the file's shape is checked here, its rows by a
    worker while the import's page shows a progress bar; a file with any bad row imports
    nothing (unless the valid rows are asked for), and every bad row is listed there."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        started = start_upload("targets", form)
        if started is not None and not isinstance(started, ImportReport):
            return started
        report = started
    return _progress_page(form, report, status=422)


@bp.get("/progress.csv")
@organizer_required
def progress_csv() -> Response:
    """The progress figures as CSV (the page's filters apply)."""
    form = _filter_form(_ward_names(), dict(vocabulary_choices("target_group")))
    figures = operations.progress(**_filters(form))
    return exports.csv_response(exports.progress_csv(figures), f"progress-{figures.year}.csv")


def _hours_form() -> HoursFilterForm:
    """The filters; bad ones are shown with their error and replaced by the defaults."""
    form = HoursFilterForm(formdata=request.args)
    if not form.validate():
        form.year.data = None if form.year.errors else form.year.data
        form.by.data = "volunteer" if form.by.errors else form.by.data
    return form


@bp.get("/hours")
@organizer_required
def volunteer_hours() -> ResponseReturnValue:
    """Hours worked per volunteer or per squad, most first."""
    form = _hours_form()
    rows = hours.hours_by(form.by.data, form.year.data)
    return render_template(
        "progress/hours.html",
        form=form,
        rows=rows,
        by=form.by.data,
        total=round(sum(h.minutes for h in rows) / 60, 2),
        wards=_ward_names(),
        query=_query("by", "year"),
    ), (422 if form.errors else 200)


@bp.get("/hours.csv")
@organizer_required
def hours_csv() -> Response:
    """The hours as CSV."""
    form = _hours_form()
    rows = hours.hours_by(form.by.data, form.year.data)
    return exports.csv_response(
        exports.hours_csv(form.by.data, rows), exports.hours_filename(form.by.data, form.year.data)
    )
