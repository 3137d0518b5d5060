"""Participants' pages: registering for a session (by oneself, with consent, or by an
organizer on someone's behalf), the lead's check-in page with its QR code, and an
organizer's view of a participant's record with export and erasure."""

from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    flash,
    json,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from coordinator.bookings import checkin as checkin_rules
from coordinator.bookings import registrations
from coordinator.bookings.models import VOLUNTEER_ATTENDANCE, Registration, RegistrationStatus
from coordinator.calendar.tokens import feed_url, rotate_feed_token, subscribe_links
from coordinator.errors import DomainError, handle_http_exception
from coordinator.extensions import db
from coordinator.participants import attendance, records
from coordinator.participants.forms import ParticipantForm
from coordinator.participants.levels import LEVEL_MEANINGS
from coordinator.participants.operations import create_participant
from coordinator.participants.way_back import manage_token
from coordinator.people.models import Participant
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.sessions.operations import get_session, organized_session
from coordinator.text import vietnamese_name_key
from coordinator.web.access import organizer_required
from coordinator.web.forms import (
    REFUSED,
    EmptyForm,
    commit,
    options,
    vocabulary_choices,
    ward_choices,
)

bp = Blueprint("participants_pages", __name__)
ATTENDANCE_LABELS = {
    "attended": _l("Came"),
    "late": _l("Came late"),
    "no_show": _l("No-show"),
    "excused": _l("Excused"),
}
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _participant_form(session: TrainingSession, by_organizer: bool) -> ParticipantForm:
    form = ParticipantForm()
    form.ward.choices = options(ward_choices(near=session.ward))
    form.target_group.choices = options(vocabulary_choices("target_group"))
    form.accessibility_needs.choices = options(vocabulary_choices("accessibility_skills"))
    if by_organizer:
        del form.consent  # an organizer registers on someone's behalf (e.g. a minor)
    return form


def _form_data(form: ParticipantForm) -> dict:
    return {
        "full_name": form.full_name.data.strip(),
        "ward": form.ward.data,
        "target_group": form.target_group.data,
        "accessibility_needs": form.accessibility_needs.data,
        "contact": (form.contact.data or "").strip() or None,
        "guardian_contact": (form.guardian_contact.data or "").strip() or None,
        "consent": bool(getattr(form, "consent", None) and form.consent.data),
        "locale": "en" if request.accept_languages.best_match(["vi", "en"]) == "en" else "vi",
    }


def _reachable(form: ParticipantForm, for_someone_else: bool) -> bool:
    """Whoever registers someone else leaves their own contact (to reach them, and to
    get back to the registration)."""
    if (
        request.method == "POST"
        and for_someone_else
        and not (form.guardian_contact.data or "").strip()
    ):
        form.guardian_contact.errors = [
            *form.guardian_contact.errors,
            _("You register someone else: give your own phone or email here."),
        ]
        return False
    return True


@bp.route("/sessions/<int:session_id>/register", methods=["GET", "POST"])
def register(session_id: int) -> ResponseReturnValue:
    """A learner, or a parent or teacher for them, registers: a place (or a waitlist
    position) and a private calendar link, shown once. The form starts from the session's
    own ward and target group."""
    session = get_session(session_id)
    form = _participant_form(session, by_organizer=False)
    if request.method == "GET":
        form.ward.data = session.ward
        form.target_group.data = session.target_group
    valid = form.validate_on_submit()  # then the contact rule too: every error at once
    reachable = _reachable(form, for_someone_else=request.form.get("for_whom") == "other")
    if session.status == SessionStatus.PUBLISHED and valid and reachable:
        data = _form_data(form)

        def enrol() -> tuple[Registration, str]:
            participant, token = create_participant(data, by_organizer=False, actor_id=None)
            registration = registrations.register(
                session, participant, None, namesake_confirmed=form.another_person.data
            )
            return registration, token

        done = commit(enrol, form)
        if done is not REFUSED:
            registration, token = done
            body = render_template(
                "participants/registered.html",
                session=session,
                registration=registration,
                subscribe=subscribe_links(feed_url("p", token)),
                manage=url_for("registration_pages.manage", token=manage_token(registration)),
            )
            return body, 200, PRIVATE
    status = 422 if request.method == "POST" else 200
    return render_template("participants/register.html", form=form, session=session), status


@bp.errorhandler(429)
def too_many_registrations(error: HTTPException) -> ResponseReturnValue:
    """Several people register from one phone at a venue: when the limit per connection
    is reached, the form comes back with everything typed, to send again in a minute."""
    if request.endpoint != "participants_pages.register" or request.method != "POST":
        return handle_http_exception(error)
    session = get_session((request.view_args or {}).get("session_id", 0))
    form = _participant_form(session, by_organizer=False)
    body = render_template("participants/register.html", form=form, session=session, limited=True)
    return body, 429, {"Retry-After": "60"}


@bp.route("/organize/sessions/<int:session_id>/participants", methods=["GET", "POST"])
@organizer_required
def session_participants(session_id: int) -> ResponseReturnValue:
    """An organizer's list of a session's participants (with needs and contacts), and
    registering someone on their behalf."""
    session = organized_session(session_id)
    form = _participant_form(session, by_organizer=True)
    if form.validate_on_submit():
        data = _form_data(form)

        def enrol() -> Registration:
            participant, _token = create_participant(
                data, by_organizer=True, actor_id=current_user.id
            )
            return registrations.register(
                session, participant, current_user.id, namesake_confirmed=form.another_person.data
            )

        registration = commit(enrol, form)
        if registration is not REFUSED:
            flash(
                _("Registered.")
                if registration.status == RegistrationStatus.REGISTERED
                else _(
                    "The session is full: number %(n)d on the waitlist.",
                    n=registration.waitlist_position,
                ),
                "success",
            )
            return redirect(
                url_for("participants_pages.session_participants", session_id=session.id)
            )
    rows = sorted(
        db.session.execute(
            sa.select(Registration, Participant)
            .join(Participant, Registration.participant_id == Participant.id)
            .where(Registration.session_id == session.id, Participant.erased_at.is_(None))
        ).all(),
        key=lambda row: (
            row[0].status,
            row[0].waitlist_position or 0,
            vietnamese_name_key(row[1].full_name),
        ),
    )
    status = 422 if request.method == "POST" else 200
    return (
        render_template(
            "participants/session_participants.html", session=session, rows=rows, form=form
        ),
        status,
        PRIVATE,
    )


@bp.get("/organize/participants/<int:participant_id>")
@organizer_required
def record(participant_id: int) -> ResponseReturnValue:
    """What is kept about a participant, with export, a new calendar link and erasure."""
    participant = records.organized_participant(participant_id)
    return (
        render_template(
            "participants/record.html", data=records.export(participant), form=EmptyForm()
        ),
        200,
        PRIVATE,
    )


@bp.post("/organize/participants/<int:participant_id>/calendar-link")
@organizer_required
def calendar_link(participant_id: int) -> ResponseReturnValue:
    """A new private calendar link for someone who lost theirs; the old one stops."""
    participant = records.organized_participant(participant_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("participants_pages.record", participant_id=participant_id))
    token = rotate_feed_token(participant_id=participant.id)
    db.session.commit()
    links = subscribe_links(feed_url("p", token))
    return (
        render_template(
            "participants/calendar_link.html", participant=participant, subscribe=links
        ),
        200,
        PRIVATE,
    )


@bp.get("/organize/participants/<int:participant_id>/export.json")
@organizer_required
def export(participant_id: int) -> Response:
    """Everything kept about the participant, as a JSON download."""
    participant = records.organized_participant(participant_id)
    body = json.dumps(records.export(participant), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={
            **PRIVATE,
            "Content-Disposition": f'attachment; filename="participant-{participant.id}.json"',
        },
    )


@bp.post("/organize/participants/<int:participant_id>/erase")
@organizer_required
def erase(participant_id: int) -> ResponseReturnValue:
    """Erase the participant's personal data (anonymous counts remain)."""
    participant = records.organized_participant(participant_id)
    if not EmptyForm().validate_on_submit() or request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm the erasure."), "error")
        return redirect(url_for("participants_pages.record", participant_id=participant_id))
    records.erase(participant)
    db.session.commit()
    flash(_("The participant's personal data is erased; only anonymous counts remain."), "success")
    return redirect(url_for("sessions_pages.dashboard"))


def _entries(roster: list, areas: list) -> list[dict]:
    """The check-in form's fields as attendance entries ("everyone is here" ticks every
    Present box and keeps the rest as typed)."""
    everyone = request.form.get("all_present") == "y"
    entries = []
    for registration, _participant, _recorded in roster:
        levels = {}
        for area in areas:
            value = request.form.get(f"level-{registration.id}-{area.code}", "")
            if value:
                levels[area.code] = int(value) if value.isdigit() else -1
        entries.append(
            {
                "registration_id": registration.id,
                "attended": everyone or request.form.get(f"attended-{registration.id}") == "y",
                "levels": levels,
                "reached_basic": request.form.get(f"reached-{registration.id}") == "y",
            }
        )
    return entries


def _volunteer_entries(sheet: list) -> list[dict]:
    """The volunteers' form: one status per confirmed booking (unanswered ones left)."""
    entries = []
    for entry in sheet:
        status = request.form.get(f"volunteer-{entry.assignment.id}", "")
        if status:
            entries.append({"assignment_id": entry.assignment.id, "status": status})
    return entries


@bp.route("/checkin/<int:session_id>", methods=["GET", "POST"])
def checkin(session_id: int) -> ResponseReturnValue:
    """The lead's check-in page (a phone in hand): which volunteers came, which
    participants came, their levels, the basic standard."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    session = attendance.get_open_session(session_id)
    attendance.require_recorder(current_user, session)
    areas = attendance.areas()
    roster = attendance.roster(session)
    sheet = checkin_rules.staff_roster(session)
    errors: dict = {}
    status = 200
    kept: dict = {}  # a refused save shows its section as it was sent, every entry kept
    if request.method == "POST":
        kept = {request.form.get("section") or "participants": request.form}
        if not EmptyForm().validate_on_submit():
            flash(_("The form expired. Please try again."), "error")
        else:
            volunteers = request.form.get("section") == "volunteers"
            try:
                if volunteers:
                    checkin_rules.record_volunteers(
                        session, _volunteer_entries(sheet), current_user.id
                    )
                else:
                    attendance.record(session, _entries(roster, areas), current_user.id)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                errors = error.messages or {}
                status = error.status
                flash(error.message, "error")
            else:
                flash(_("Attendance saved."), "success")
                return redirect(url_for("participants_pages.checkin", session_id=session.id))
    url = url_for("participants_pages.checkin", session_id=session.id, _external=True)
    qr = segno.make(url, error="m").svg_inline(scale=4, title=_("Check-in page"))
    return (
        render_template(
            "participants/checkin.html",
            session=session,
            roster=roster,
            sheet=sheet,
            statuses=VOLUNTEER_ATTENDANCE,
            attendance_label=ATTENDANCE_LABELS.get,
            window=checkin_rules.checkin_window(session),
            is_open=checkin_rules.checkin_open(session),
            areas=areas,
            errors=errors,
            qr=qr,
            form=EmptyForm(),
            names=attendance.door_names([participant for _r, participant, _l in roster]),
            need_names=dict(vocabulary_choices("accessibility_skills")),
            group_names=dict(vocabulary_choices("target_group")),
            level_meanings=LEVEL_MEANINGS,
            kept=kept,
        ),
        status,
        PRIVATE,
    )
