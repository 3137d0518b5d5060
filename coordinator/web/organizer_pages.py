"""Organizers' pages: the staffing dashboard, creating sessions, a session's staffing,
and matching runs with live progress and their proposals."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from coordinator.bookings import operations as bookings
from coordinator.bookings.models import Assignment
from coordinator.competences.models import Competence
from coordinator.database import utcnow
from coordinator.errors import DomainError, NotFound
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.geography.operations import require_ward
from coordinator.matching import operations as matching
from coordinator.matching.progress import run_view
from coordinator.people import imports
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.operations import (
    cancel_session,
    create_sessions,
    get_session,
    update_session,
)
from coordinator.squads.models import Squad
from coordinator.vocabularies.terms import TARGET_GROUPS
from coordinator.web.auth_pages import ward_choices
from coordinator.web.forms import (
    REFUSED,
    EmptyForm,
    ImportForm,
    ReasonForm,
    SessionForm,
    commit,
    options,
)
from coordinator.web.volunteer_pages import choices

bp = Blueprint("organize", __name__, url_prefix="/organize")
DASHBOARD_WEEKS = 4
URGENT_DAYS, SOON_DAYS = 3, 7
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def organizer_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.has_role("organizer"):
            flash(_("These pages are for organizers."), "error")
            return redirect(url_for("pages.home"))
        return view(*args, **kwargs)

    return wrapper


def urgency(session: TrainingSession, open_seats: int) -> str:
    if open_seats == 0:
        return "fine"
    days = (session.starts_at - utcnow()).days
    return "urgent" if days < URGENT_DAYS else "soon" if days < SOON_DAYS else "fine"


@bp.get("/")
@organizer_required
def dashboard():
    """Sessions of the next weeks with their open seats, most urgent first."""
    now = utcnow()
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.status == "published",
            TrainingSession.starts_at >= now,
            TrainingSession.starts_at < now + timedelta(weeks=DASHBOARD_WEEKS),
        )
        .order_by(TrainingSession.starts_at)
    ).all()
    rows = []
    for session in sessions:
        staffing = bookings.staffing(session)
        open_seats = sum(max(r["needed"] - r["confirmed"] - r["proposed"], 0) for r in staffing)
        rows.append(
            {
                "session": session,
                "staffing": staffing,
                "open": open_seats,
                "urgency": urgency(session, open_seats),
            }
        )
    return render_template("organize/dashboard.html", rows=rows, form=EmptyForm())


def _session_form() -> SessionForm:
    form = SessionForm()
    form.ward.choices = options(ward_choices())
    form.competence_area.choices = options(
        (c.code, f"{c.code} {c.name}")
        for c in db.session.scalars(sa.select(Competence).order_by(Competence.code))
    )
    form.target_group.choices = options(choices("target_group") or [(g, g) for g in TARGET_GROUPS])
    form.venue_accessibility.choices = options(choices("venue_accessibility"))
    form.participant_needs.choices = options(choices("accessibility_skills"))
    return form


def _local(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=display_timezone())


ROLE_FIELDS = (("lead", "leads"), ("helper", "helpers"), ("interpreter", "interpreters"))


def _session_data(form: SessionForm, session: TrainingSession | None = None) -> dict | None:
    """The form as the operations' input; None (with the field's error set) if the time
    cannot be read. Roles keep the skills they already require."""
    starts = _local(form.starts_at.data)
    if starts is None:
        form.starts_at.errors = [_("Use a date and time, e.g. 2026-12-01T18:00.")]
        return None
    skills = {r.role: r.required_skills for r in session.roles} if session else {}
    return {
        "title": form.title.data.strip(),
        "description": (form.description.data or "").strip(),
        "competence_area": form.competence_area.data,
        "target_group": form.target_group.data,
        "ward": form.ward.data,
        "venue": form.venue.data.strip(),
        "venue_accessibility": form.venue_accessibility.data,
        "participant_needs": form.participant_needs.data,
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=form.duration_minutes.data),
        "capacity": form.capacity.data,
        "roles": [
            {
                "role": name,
                "count": getattr(form, field).data or 0,
                "required_skills": skills.get(name, []),
            }
            for name, field in ROLE_FIELDS
            if getattr(form, field).data or name in skills
        ],
    }


# Fields the operations name that the form shows under another name.
SESSION_ALIASES = {"ends_at": "duration_minutes", "roles": "helpers"}


@bp.route("/sessions/new", methods=["GET", "POST"])
@organizer_required
def new_session():
    form = _session_form()
    if form.validate_on_submit() and (data := _session_data(form)) is not None:
        data["languages"] = ["vi"]
        if form.weekly_count.data and form.weekly_count.data > 1:
            data["repeat"] = {"weekly": form.weekly_count.data}
        created = commit(
            lambda: create_sessions(data, organizer_id=current_user.id), form, SESSION_ALIASES
        )
        if created is not REFUSED:
            flash(_("%(n)d session(s) published.", n=len(created)), "success")
            return redirect(url_for("organize.session_detail", session_id=created[0].id))
    status = 422 if request.method == "POST" else 200
    return render_template("organize/session_form.html", form=form, session=None), status


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@organizer_required
def edit_session(session_id: int):
    session = get_session(session_id)
    form = _session_form()
    if request.method == "GET":
        form.process(obj=session)
        local = session.starts_at.astimezone(display_timezone())
        form.starts_at.data = local.strftime("%Y-%m-%dT%H:%M")
        form.duration_minutes.data = int(
            (session.ends_at - session.starts_at).total_seconds() // 60
        )
        counts = {r.role: r.count for r in session.roles}
        for name, field in ROLE_FIELDS:
            getattr(form, field).data = counts.get(name, 0)
    elif form.validate_on_submit() and (data := _session_data(form, session)) is not None:
        data["reason"] = (request.form.get("reason") or "").strip() or None
        if commit(lambda: update_session(session, data), form, SESSION_ALIASES) is not REFUSED:
            flash(_("Saved. Volunteers and calendars see the change."), "success")
            return redirect(url_for("organize.session_detail", session_id=session.id))
    status = 422 if request.method == "POST" else 200
    return render_template("organize/session_form.html", form=form, session=session), status


@bp.post("/sessions/<int:session_id>/cancel")
@organizer_required
def cancel(session_id: int):
    session = get_session(session_id)
    form = ReasonForm()
    reason = (form.reason.data or "").strip() if form.validate_on_submit() else ""
    if not reason:
        flash(_("Say why the session is cancelled: participants and volunteers see it."), "error")
    elif commit(lambda: cancel_session(session, reason)) is not REFUSED:
        flash(_("The session is cancelled."), "success")
    return redirect(url_for("organize.session_detail", session_id=session_id))


@bp.get("/sessions/<int:session_id>")
@organizer_required
def session_detail(session_id: int):
    session = get_session(session_id)
    bookings_rows = db.session.execute(
        sa.select(Assignment, Volunteer)
        .join(Volunteer, Assignment.volunteer_id == Volunteer.id)
        .where(Assignment.session_id == session.id)
        .order_by(Assignment.role_id, Assignment.waitlist_position, Assignment.id)
    ).all()
    audit = db.session.scalars(
        sa.select(DomainEvent)
        .where(DomainEvent.aggregate_type == "session", DomainEvent.aggregate_id == session.id)
        .order_by(DomainEvent.id.desc())
        .limit(50)
    ).all()
    volunteers = db.session.scalars(
        sa.select(Volunteer).where(Volunteer.active.is_(True)).order_by(Volunteer.full_name)
    ).all()
    squads = db.session.scalars(sa.select(Squad).order_by(Squad.name)).all()
    return render_template(
        "organize/session.html",
        session=session,
        staffing=bookings.staffing(session),
        bookings=bookings_rows,
        audit=audit,
        volunteers=volunteers,
        squads=squads,
        form=ReasonForm(),
    )


@bp.post("/sessions/<int:session_id>/assign")
@organizer_required
def assign(session_id: int):
    session = get_session(session_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
    else:
        try:
            volunteer = db.session.get(Volunteer, int(request.form.get("volunteer_id", "0")))
            if volunteer is None:
                raise NotFound(_("No such volunteer."))
            bookings.assign_volunteer(
                session, request.form.get("role", ""), volunteer, current_user.id
            )
            db.session.commit()
        except ValueError:
            flash(_("Choose a volunteer."), "error")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Assigned."), "success")
    return redirect(url_for("organize.session_detail", session_id=session_id))


@bp.post("/sessions/<int:session_id>/assign-squad")
@organizer_required
def assign_squad(session_id: int):
    session = get_session(session_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("organize.session_detail", session_id=session_id))
    squad = db.session.get(Squad, request.form.get("squad_id", type=int) or 0)
    try:
        if squad is None:
            raise NotFound(_("No such squad."))
        created, skipped = bookings.assign_squad(
            session, squad, request.form.get("role") or None, current_user.id
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        for name, messages in (error.messages or {}).items():
            flash(f"{name}: {' '.join(map(str, messages))}", "error")
    else:
        flash(
            _(
                "%(n)d squad members booked (%(skipped)d already there or no seat).",
                n=len(created),
                skipped=len(skipped),
            ),
            "success",
        )
    return redirect(url_for("organize.session_detail", session_id=session_id))


@bp.route("/matching", methods=["GET", "POST"])
@organizer_required
def matching_runs():
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        ward = request.form.get("ward") or None

        def start():
            if ward:
                require_ward(ward)
            return matching.request_run(ward=ward, requested_by=current_user.id)

        run = commit(start)
        if run is not REFUSED:
            return redirect(url_for("organize.run_detail", run_id=run.id))
    from coordinator.matching.models import MatchingRun

    runs = db.session.scalars(sa.select(MatchingRun).order_by(MatchingRun.id.desc()).limit(20))
    return render_template(
        "organize/matching.html", runs=runs.all(), wards=ward_choices(), form=form
    )


def _run_context(run_id: int) -> dict:
    view = run_view(matching.get_run(run_id))
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
def run_detail(run_id: int):
    return render_template("organize/run.html", **_run_context(run_id))


@bp.get("/runs/<int:run_id>/progress")
@organizer_required
def run_progress(run_id: int):
    """For the page's progress bar (the page also works without JavaScript)."""
    view = run_view(matching.get_run(run_id))
    return jsonify(status=view["status"], progress=view["progress"])


@bp.route("/volunteers/import", methods=["GET", "POST"])
@organizer_required
def import_volunteers():
    """A CSV of volunteers; every bad row is reported with its line number."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        raw = form.file.data.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            form.file.errors = [_("The file is larger than 2 MB.")]
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                form.file.errors = [_("Save the file as CSV in UTF-8.")]
            else:
                report = imports.import_volunteers(text, valid_rows_only=form.valid_rows_only.data)
                db.session.commit()
                if report.created:
                    flash(_("%(n)d volunteers imported.", n=report.created), "success")
    status = (
        422 if request.method == "POST" and (form.errors or (report and report.errors)) else 200
    )
    return render_template(
        "organize/import.html", form=form, report=report, columns=imports.COLUMNS
    ), status
