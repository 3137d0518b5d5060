"""Organizers' pages for progress towards the targets (table, SVG charts, CSV export,
targets upload) and volunteers' hours (table, CSV export): /organize/progress, /hours."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from coordinator.csv_import import ImportReport
from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.geography.operations import exists_today
from coordinator.imports.pages import start_upload
from coordinator.paging import Page, page_args
from coordinator.people.scopes import Scope, scope_of
from coordinator.progress import exports, hours, hours_kept, levels, operations, targets
from coordinator.progress.charts import bar_chart
from coordinator.progress.forms import HoursFilterForm, ProgressFilterForm
from coordinator.replica import reads_replica
from coordinator.text import vietnamese_sort_key
from coordinator.web.access import organizer_required
from coordinator.web.forms import ImportForm, options, vocabulary_choices

bp = Blueprint("progress_pages", __name__, url_prefix="/organize")
HOURS_PAGE = 100  # volunteers or squads a page
PROGRESS_PAGE = 100  # rows (unit and group) a page; the unit chart shows the page's units
_UNIT_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


def _query(*names: str) -> dict[str, str]:
    """The filters of this page in the query string, for the CSV link (and nothing else:
    url_for reads some underscore names as options)."""
    return {name: request.args[name] for name in names if request.args.get(name)}


def _ward_names(where: sa.ColumnElement[bool]) -> dict[str, str]:
    """Names of the units `where` keeps, in the page's language."""
    english = str(get_locale()) == "en"
    return {
        code: (name_en if english and name_en else name)
        for code, name, name_en in db.session.execute(
            sa.select(Ward.code, Ward.name, Ward.name_en).where(where)
        )
    }


def _focus_province(scope: Scope) -> str:
    """The province whose units the filter lists: the chosen unit's, else the service's.
    A national organizer picks a province first; 3,321 options fit no phone."""
    chosen = request.args.get("unit") or request.args.get("ward") or ""
    if _UNIT_CODE.match(chosen):  # anything else names nothing (and NUL upsets PostgreSQL)
        if db.session.get(Province, chosen) is not None:
            return chosen
        ward = db.session.get(Ward, chosen)
        if ward is not None and ward.province_code:
            return ward.province_code
    return str(current_app.config["COORDINATOR_PROVINCE"])


def _listed_units(scope: Scope) -> sa.ColumnElement[bool]:
    """The units the filter offers: the organizer's own, or a national organizer's
    province of focus."""
    if scope.national:
        return Ward.province_code == _focus_province(scope)
    return scope.where(Ward.code)


def _province_names() -> dict[str, str]:
    english = str(get_locale()) == "en"
    return {
        p.code: (p.name_en if english and p.name_en else p.name)
        for p in sorted(
            db.session.scalars(sa.select(Province)), key=lambda p: vietnamese_sort_key(p.name)
        )
    }


def _level_choices(scope: Scope) -> list[tuple[str, str]]:
    """The levels this organizer may see."""
    levels = [("ward", _("Wards"))]
    if scope.national or scope.province_codes:
        levels.append(("province", _("Provinces")))
    if scope.national:
        levels.append(("national", _("Whole country")))
    return levels


def _unit_choices(scope: Scope, wards: dict[str, str]) -> list[tuple[str, str]]:
    """Provinces, then wards, within the organizer's units (former units marked)."""
    provinces = [
        (code, name)
        for code, name in _province_names().items()
        if scope.national or code in scope.province_codes
    ]
    ended = set(
        db.session.scalars(
            sa.select(Ward.code).where(_listed_units(scope), sa.not_(exists_today()))
        )
    )
    units = [
        (code, _("%(name)s (former)", name=name) if code in ended else name)
        for code, name in sorted(wards.items(), key=lambda item: vietnamese_sort_key(item[1]))
        if scope.covers(code)
    ]
    return provinces + sorted(units, key=lambda unit: unit[0] in ended)


def _filter_form(scope: Scope, wards: dict[str, str], groups: dict[str, str]) -> ProgressFilterForm:
    formdata = request.args.copy()
    if formdata.get("ward") and not formdata.get("unit"):  # the older filter's links
        formdata["unit"] = formdata["ward"]
    form = ProgressFilterForm(formdata=formdata)
    form.level.choices = options(_level_choices(scope))
    form.unit.choices = options([("", _("All my units")), *_unit_choices(scope, wards)])
    form.target_group.choices = options([("", _("All groups")), *groups.items()])
    return form


_T = TypeVar("_T")


def _report(form: ProgressFilterForm, scope: Scope, page: Callable[..., _T]) -> _T:
    """`page(**filters, scope=...)` for the chosen filters; a bad one is shown with its
    error and left out."""
    form.validate()
    chosen = {
        "year": None if form.year.errors else form.year.data,
        "level": "ward" if form.level.errors else form.level.data or "ward",
        "unit": None if form.unit.errors else form.unit.data or None,
        "target_group": None if form.target_group.errors else form.target_group.data or None,
    }
    try:
        return page(**chosen, scope=scope)
    except Invalid as error:  # a ward at level=province, a unit at national level
        form.unit.errors = [*form.unit.errors, error.message]
        return page(**{**chosen, "unit": None}, scope=scope)


def _progress_page(
    import_form: ImportForm, report: ImportReport | None = None, status: int = 200
) -> ResponseReturnValue:
    scope = scope_of(current_user)
    wards = _ward_names(_listed_units(scope))
    groups = dict(vocabulary_choices("target_group"))
    form = _filter_form(scope, wards, groups)
    limit, offset = page_args(PROGRESS_PAGE)
    figures, total = _report(
        form, scope, functools.partial(levels.progress_page, limit=limit, offset=offset)
    )
    page = Page(total, limit, offset, len(figures.rows))
    shown = {row.ward for row in figures.rows if row.ward}
    shown |= {former.code for row in figures.rows for former in row.includes}
    wards |= _ward_names(Ward.code.in_(sorted(shown - set(wards))))
    units = {"ward": wards, "province": _province_names(), "national": {"VN": _("Viet Nam")}}[
        figures.level
    ]
    unit_chart = bar_chart(
        [(units.get(k, k), v.reached, v.target) for k, v in figures.by_unit.items()]
    )
    group_chart = bar_chart(
        [(groups.get(k, k), v.reached, v.target) for k, v in figures.by_group.items()]
    )
    return render_template(
        "progress/progress.html",
        form=form,
        figures=figures,
        units=units,
        wards=wards,
        groups=groups,
        unit_chart=unit_chart,
        group_chart=group_chart,
        import_form=import_form,
        report=report,
        columns=targets.TARGET_COLUMNS,
        page=page,
        query=_query("year", "level", "unit", "ward", "target_group"),
    ), 422 if form.errors else status


@bp.get("/progress")
@organizer_required
@reads_replica
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
    scope = scope_of(current_user)
    form = _filter_form(
        scope, _ward_names(_listed_units(scope)), dict(vocabulary_choices("target_group"))
    )
    figures = _report(form, scope, operations.progress)
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
@reads_replica
def volunteer_hours() -> ResponseReturnValue:
    """Hours worked per volunteer or per squad, most first."""
    form = _hours_form()
    limit, offset = page_args(HOURS_PAGE)
    found = hours_kept.hours_page(form.by.data, form.year.data, limit=limit, offset=offset)
    rows = found.rows
    return render_template(
        "progress/hours.html",
        form=form,
        rows=rows,
        by=form.by.data,
        total=found.total_hours,
        page=Page(found.total, limit, offset, len(rows)),
        wards=_ward_names(Ward.code.in_(sorted({h.home_ward for h in rows if h.home_ward}))),
        query=_query("by", "year"),
    ), (422 if form.errors else 200)


@bp.get("/hours.csv")
@organizer_required
@reads_replica
def hours_csv() -> Response:
    """The hours as CSV."""
    form = _hours_form()
    rows = hours.iter_hours(form.by.data, form.year.data)
    return exports.csv_response(
        exports.hours_csv(form.by.data, rows), exports.hours_filename(form.by.data, form.year.data)
    )
