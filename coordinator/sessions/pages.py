"""Session pages: the organizers' staffing dashboard, creating, editing and cancelling a
session and its staffing page (/organize/...), and a session's public page."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from coordinator import clock
from coordinator.bookings import operations as bookings
from coordinator.bookings.models import Assignment
from coordinator.bookings.picker import candidates
from coordinator.calendar.tokens import public_subscribe_links
from coordinator.competences.models import Competence
from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.notifications import confirmations
from coordinator.paging import Page, count, page_args, paged
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.dashboard import by_urgency, needs_of
from coordinator.sessions.forms import SessionForm
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.operations import (
    CancelScope,
    cancel_session,
    cancellation_reach,
    create_sessions,
    get_session,
    organized_session,
    organized_sessions,
    update_session,
)
from coordinator.squads.models import Squad
from coordinator.text import vietnamese_sort_key
from coordinator.vocabularies.terms import TARGET_GROUPS, vocabulary
from coordinator.web.access import organizer_required
from coordinator.web.forms import (
    REFUSED,
    EmptyForm,
    ReasonForm,
    commit,
    options,
    vocabulary_choices,
    ward_choices,
)
from coordinator.web.i18n import prefetch_ward_names

bp = Blueprint("sessions_pages", __name__)
DASHBOARD_WEEKS = 4
DASHBOARD_PAGE = 100  # sessions a page
BOOKINGS_PAGE, AUDIT_PAGE = 100, 50  # a session page's bookings and audit entries


@bp.get("/organize/")
@organizer_required
def dashboard() -> ResponseReturnValue:
    """What needs the organizer now: a summary strip, then the sessions of the next weeks
    by urgency, each role confirmed, awaiting a reply or empty."""
    now = utcnow()
    query = organized_sessions().where(
        TrainingSession.status == "published",
        TrainingSession.starts_at >= now,
        TrainingSession.starts_at < now + timedelta(weeks=DASHBOARD_WEEKS),
    )
    limit, offset = page_args(DASHBOARD_PAGE)
    ranked, strip, total = by_urgency(query, now, limit, offset)
    sessions = [row[0] for row in ranked]
    page = Page(total, limit, offset, len(sessions))
    prefetch_ward_names(s.ward for s in sessions)
    staffing = bookings.staffing_of(sessions)
    rows = [needs_of(row, staffing[row[0].id]) for row in ranked]
    unconfirmed = confirmations.due_unconfirmed(sessions, clock.now())
    return render_template(
        "sessions/dashboard.html",
        rows=rows,
        summary=strip,
        page=page,
        form=EmptyForm(),
        unconfirmed=unconfirmed,
    )


def _session_form(session: TrainingSession | None = None) -> SessionForm:
    form = SessionForm()
    form.ward.choices = options(ward_choices(keep=[session.ward] if session else ()))
    form.competence_area.choices = options(
        (c.code, f"{c.code} {c.name}")
        for c in db.session.scalars(sa.select(Competence).order_by(Competence.code))
    )
    form.target_group.choices = options(
        vocabulary_choices("target_group") or [(g, g) for g in TARGET_GROUPS]
    )
    form.venue_accessibility.choices = options(vocabulary_choices("venue_accessibility"))
    form.participant_needs.choices = options(vocabulary_choices("accessibility_skills"))
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


@bp.route("/organize/sessions/new", methods=["GET", "POST"])
@organizer_required
def new_session() -> ResponseReturnValue:
    """Publish a session, or a weekly series of them."""
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
            return redirect(url_for("sessions_pages.session_detail", session_id=created[0].id))
    status = 422 if request.method == "POST" else 200
    return render_template("sessions/session_form.html", form=form, session=None), status


@bp.route("/organize/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@organizer_required
def edit_session(session_id: int) -> ResponseReturnValue:
    """Change a session; volunteers and calendars see the change."""
    session = organized_session(session_id)
    form = _session_form(session)
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
            return redirect(url_for("sessions_pages.session_detail", session_id=session.id))
    status = 422 if request.method == "POST" else 200
    return render_template("sessions/session_form.html", form=form, session=session), status


def _cancel_page(session: TrainingSession, form: ReasonForm, status: int = 200):
    """The confirmation step: how many volunteers and participants will be told."""
    form.reason.label.text = _("Reason (shown to participants and volunteers)")
    reach = {CancelScope.OCCURRENCE: cancellation_reach(session, CancelScope.OCCURRENCE)}
    if session.series_id is not None:
        reach[CancelScope.REST_OF_SERIES] = cancellation_reach(session, CancelScope.REST_OF_SERIES)
    chosen = request.form.get("scope") or CancelScope.OCCURRENCE
    page = render_template(
        "sessions/cancel.html", session=session, form=form, reach=reach, chosen=chosen
    )
    return page, status


@bp.route("/organize/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@organizer_required
def cancel(session_id: int) -> ResponseReturnValue:
    """Cancel a session after a confirmation page saying who will be told, with the reason
    participants and volunteers are shown."""
    session = organized_session(session_id)
    if session.status != "published":
        flash(_("Only a published session can be cancelled."), "error")
        return redirect(url_for("sessions_pages.session_detail", session_id=session_id))
    form = ReasonForm()
    if request.method == "GET":
        return _cancel_page(session, form)
    if not form.validate_on_submit():
        return _cancel_page(session, form, 422)
    reason = (form.reason.data or "").strip()
    if not reason:
        form.reason.errors = [
            _("Say why the session is cancelled: participants and volunteers see it.")
        ]
        return _cancel_page(session, form, 422)
    rest = request.form.get("scope") == CancelScope.REST_OF_SERIES
    scope = CancelScope.REST_OF_SERIES if rest else CancelScope.OCCURRENCE
    if commit(lambda: cancel_session(session, reason, scope)) is not REFUSED:
        if rest and session.series_id is not None:
            flash(_("The session and the rest of its series are cancelled."), "success")
        else:
            flash(_("The session is cancelled."), "success")
    return redirect(url_for("sessions_pages.session_detail", session_id=session_id))


@bp.get("/organize/sessions/<int:session_id>")
@organizer_required
def session_detail(session_id: int) -> ResponseReturnValue:
    """A session's staffing, bookings and history, with the forms to assign people."""
    session = organized_session(session_id)
    # Two lists a page at a time each (bookings_offset, audit_offset in the query string).
    booked = sa.select(Assignment, Volunteer).join(
        Volunteer, Assignment.volunteer_id == Volunteer.id
    )
    booked = booked.where(Assignment.session_id == session.id)
    limit, offset = page_args(BOOKINGS_PAGE, prefix="bookings_")
    bookings_rows = db.session.execute(
        paged(
            booked.order_by(Assignment.role_id, Assignment.waitlist_position, Assignment.id),
            limit,
            offset,
        ).options(sa.orm.selectinload(Assignment.role))
    ).all()
    bookings_page = Page(count(booked), limit, offset, len(bookings_rows), "bookings_")
    events = sa.select(DomainEvent).where(
        DomainEvent.aggregate_type == "session", DomainEvent.aggregate_id == session.id
    )
    limit, offset = page_args(AUDIT_PAGE, prefix="audit_")
    audit = db.session.scalars(paged(events.order_by(DomainEvent.id.desc()), limit, offset)).all()
    audit_page = Page(count(events), limit, offset, len(audit), "audit_")
    volunteers = candidates(session)
    squads = sorted(db.session.scalars(sa.select(Squad)), key=lambda s: vietnamese_sort_key(s.name))
    return render_template(
        "sessions/session_detail.html",
        session=session,
        staffing=bookings.staffing(session),
        bookings=bookings_rows,
        bookings_page=bookings_page,
        audit=audit,
        audit_page=audit_page,
        volunteers=volunteers,
        squads=squads,
        form=ReasonForm(),
    )


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int) -> ResponseReturnValue:
    """A session's public page (the URL calendar events link to)."""
    session = get_session(session_id)
    labels = {
        name: {t["code"]: t for t in vocabulary(name)}
        for name in ("venue_accessibility", "target_group")
    }
    english = str(get_locale()) == "en"

    def label(name: str, code: str) -> str:
        term = labels[name].get(code)
        return (term["label_en"] if english else term["label"]) if term else code

    return render_template(
        "sessions/session.html",
        session=session,
        venue_accessibility=[label("venue_accessibility", c) for c in session.venue_accessibility],
        target_group=label("target_group", session.target_group),
        seats_left=max(session.capacity - session.registered_count, 0),
        subscribe=public_subscribe_links(f"/calendar/wards/{session.ward}.ics"),
    )
