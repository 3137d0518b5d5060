"""People pages: a volunteer's profile with the weekly availability grid (/me/profile),
and the organizers' CSV upload of volunteers (/organize/volunteers/import; the import
itself is a job, followed on /organize/imports/<id>)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator.csv_import import ImportReport
from coordinator.imports.pages import start_upload
from coordinator.people import imports
from coordinator.people.forms import DAY_BLOCKS, ProfileForm
from coordinator.people.models import Volunteer
from coordinator.people.operations import update_volunteer
from coordinator.web.access import organizer_required, volunteer_required
from coordinator.web.forms import (
    REFUSED,
    ImportForm,
    commit,
    options,
    vocabulary_choices,
    ward_choices,
)

bp = Blueprint("people_pages", __name__)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BLOCK_NAMES = {"morning": "Morning", "afternoon": "Afternoon", "evening": "Evening"}


def grid_choices() -> list[tuple[str, str]]:
    return [
        (f"{day}:{code}", f"{_(WEEKDAY_NAMES[day])} {_(BLOCK_NAMES[code])}")
        for day in range(7)
        for code, _start, _end in DAY_BLOCKS
    ]


def grid_from_windows(windows) -> list[str]:
    """Grid cells fully inside the volunteer's windows."""
    cells = []
    for day in range(7):
        for code, start, end in DAY_BLOCKS:
            if any(
                w.weekday == day and w.start_minute <= start and end <= w.end_minute
                for w in windows
            ):
                cells.append(f"{day}:{code}")
    return cells


def windows_from_grid(cells: list[str]) -> list[dict]:
    blocks = {code: (start, end) for code, start, end in DAY_BLOCKS}
    windows = []
    for cell in sorted(cells):
        day, code = cell.split(":")
        start, end = blocks[code]
        windows.append({"weekday": int(day), "start_minute": start, "end_minute": end})
    return windows


@bp.route("/me/profile", methods=["GET", "POST"])
@volunteer_required
def profile(volunteer: Volunteer) -> ResponseReturnValue:
    """The volunteer's details, skills and weekly availability."""
    form = ProfileForm(obj=volunteer) if request.method == "GET" else ProfileForm()
    form.home_ward.choices = options(ward_choices(keep=[volunteer.home_ward]))
    form.skills.choices = options(vocabulary_choices("skills", volunteer.skills))
    form.languages.choices = options(vocabulary_choices("languages", volunteer.languages))
    form.accessibility_skills.choices = options(
        vocabulary_choices("accessibility_skills", volunteer.accessibility_skills)
    )
    form.availability.choices = options(grid_choices())
    if request.method == "GET":
        form.availability.data = grid_from_windows(volunteer.availability)
    elif form.validate_on_submit():
        changes = {
            "full_name": form.full_name.data.strip(),
            "phone": (form.phone.data or "").strip() or None,
            "home_ward": form.home_ward.data,
            "skills": form.skills.data,
            "languages": form.languages.data or ["vi"],
            "accessibility_skills": form.accessibility_skills.data,
            "max_sessions_per_week": form.max_sessions_per_week.data,
        }
        windows = windows_from_grid(form.availability.data)
        if windows != windows_from_grid(grid_from_windows(volunteer.availability)):
            changes["availability"] = windows
        if commit(lambda: update_volunteer(volunteer, changes), form) is not REFUSED:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("people_pages.profile"))
    status = 422 if request.method == "POST" else 200
    return render_template("people/profile.html", form=form, volunteer=volunteer), status


@bp.route("/organize/volunteers/import", methods=["GET", "POST"])
@organizer_required
def import_volunteers() -> ResponseReturnValue:
    """A CSV of volunteers: its shape is checked here, its rows by a worker while the
    import's page shows a progress bar, then every bad row with its line number."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        started = start_upload("volunteers", form)
        if started is not None and not isinstance(started, ImportReport):
            return started
        report = started
    status = (
        422 if request.method == "POST" and (form.errors or (report and report.errors)) else 200
    )
    return render_template(
        "people/import.html",
        form=form,
        report=report,
        columns=imports.COLUMNS,
        header=imports.VIETNAMESE_HEADER,
        codes=imports.codes_for_people(),
    ), status


@bp.get("/organize/volunteers/import/template.csv")
@organizer_required
def import_template() -> Response:
    """The import's template: the header in Vietnamese words (read as the codes) and one
    example row, as a spreadsheet opens it (UTF-8 with a byte-order mark)."""
    body = "\ufeff" + imports.template_csv()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="mau-nhap-tinh-nguyen-vien.csv"'},
    )
