"""Booking pages: organizers assign a volunteer or a squad to a session
(/organize/sessions/...); a volunteer sees the sessions that fit, signs up, answers
proposals and keeps a schedule with a private calendar link (/me/...)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from coordinator.bookings import fits as fits_of
from coordinator.bookings import operations as bookings
from coordinator.bookings.crews import crews
from coordinator.bookings.models import Assignment
from coordinator.calendar.tokens import feed_url, rotate_feed_token, subscribe_links
from coordinator.database import utcnow
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db
from coordinator.paging import Page, page_args
from coordinator.people.models import Volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.operations import organized_session
from coordinator.squads.models import Squad
from coordinator.web.access import organizer_required, volunteer_required
from coordinator.web.forms import REFUSED, EmptyForm, ReasonForm, commit, vocabulary_choices
from coordinator.web.i18n import prefetch_ward_names

bp = Blueprint("bookings_pages", __name__)
FITS_PAGE = 50  # sessions a page


def _to_session(session_id: int) -> ResponseReturnValue:
    return redirect(url_for("sessions_pages.session_detail", session_id=session_id))


RULE_LABELS = {
    "availability": _l("outside their weekly availability"),
    "weekly_limit": _l("over their weekly limit"),
    "required_skills": _l("without a skill the role requires"),
}


def _confirm_override(
    session: TrainingSession, error: DomainError, endpoint: str, fields: dict[str, str]
) -> ResponseReturnValue:
    """The second step: the rules the assignment breaks, and a button that assigns anyway
    (the same form again with override=1)."""
    sentences = error.messages.get("override") or [
        message
        for messages in error.messages.get("member_ids", {}).values()
        for message in messages
    ]
    return (
        render_template(
            "bookings/confirm_override.html",
            session=session,
            rules=[RULE_LABELS[rule] for rule in error.details.get("rules", [])],
            sentences=sentences,
            action=url_for(endpoint, session_id=session.id),
            fields=fields,
            form=EmptyForm(),
        ),
        409,
    )


@bp.post("/organize/sessions/<int:session_id>/assign")
@organizer_required
def assign(session_id: int) -> ResponseReturnValue:
    """Book one volunteer into a role of the session; outside the rules, a second step
    asks the organizer to confirm (never past a clash)."""
    session = organized_session(session_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
    else:
        try:
            volunteer = db.session.get(Volunteer, int(request.form.get("volunteer_id", "0")))
            if volunteer is None:
                raise NotFound(_("No such volunteer."))
            bookings.assign_volunteer(
                session,
                request.form.get("role", ""),
                volunteer,
                current_user.id,
                override=request.form.get("override") == "1",
            )
            db.session.commit()
        except ValueError:
            flash(_("Choose a volunteer."), "error")
        except DomainError as error:
            db.session.rollback()
            if error.code == "outside_rules":
                fields = {"volunteer_id": str(volunteer.id), "role": request.form.get("role", "")}
                return _confirm_override(session, error, "bookings_pages.assign", fields)
            flash(error.message, "error")
        else:
            flash(_("Assigned."), "success")
    return _to_session(session_id)


@bp.post("/organize/sessions/<int:session_id>/assign-squad")
@organizer_required
def assign_squad(session_id: int) -> ResponseReturnValue:
    """Book a squad's members into the session (those already there or without a seat
    are skipped)."""
    session = organized_session(session_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return _to_session(session_id)
    squad = db.session.get(Squad, request.form.get("squad_id", type=int) or 0)
    try:
        if squad is None:
            raise NotFound(_("No such squad."))
        created, skipped = bookings.assign_squad(
            session,
            squad,
            request.form.get("role") or None,
            current_user.id,
            override=request.form.get("override") == "1",
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        if error.code == "outside_rules" and squad is not None:
            fields = {"squad_id": str(squad.id), "role": request.form.get("role", "")}
            return _confirm_override(session, error, "bookings_pages.assign_squad", fields)
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
    return _to_session(session_id)


@bp.get("/me/fits")
@volunteer_required
def fits(volunteer: Volunteer) -> ResponseReturnValue:
    """Upcoming sessions the volunteer could sign up for."""
    every = fits_of.sessions_that_fit(volunteer.id)
    limit, offset = page_args(FITS_PAGE)
    found = every[offset : offset + limit]
    page = Page(len(every), limit, offset, len(found))
    held = bookings.holds_until(role.id for fit in found for role in fit["roles"])
    prefetch_ward_names(fit["session"].ward for fit in found)
    return render_template("bookings/fits.html", fits=found, held=held, page=page, form=EmptyForm())


@bp.post("/me/sessions/<int:session_id>/signup")
@volunteer_required
def sign_up(volunteer: Volunteer, session_id: int) -> ResponseReturnValue:
    """Sign up for a role: confirmed, or a place on its waitlist."""
    form = EmptyForm()
    session = db.session.get(TrainingSession, session_id)
    if session is None:
        raise NotFound(_("No such session."))
    if form.validate_on_submit():
        role = request.form.get("role", "")
        booking = commit(lambda: bookings.sign_up(session, role, volunteer, current_user.id))
        if booking is not REFUSED:
            if booking.status == "confirmed":
                flash(_("You are confirmed for “%(title)s”.", title=session.title), "success")
            else:
                flash(
                    _(
                        "The role is full: you are number %(n)d on the waitlist.",
                        n=booking.waitlist_position,
                    ),
                    "success",
                )
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for("bookings_pages.schedule"))


def _own_booking(volunteer: Volunteer, assignment_id: int) -> Assignment:
    booking = db.session.get(Assignment, assignment_id)
    if booking is None or booking.volunteer_id != volunteer.id:
        raise NotFound(_("No such booking."))
    return booking


@bp.get("/me/bookings/<int:assignment_id>/withdraw")
@volunteer_required
def confirm_withdrawal(volunteer: Volunteer, assignment_id: int) -> ResponseReturnValue:
    """The step before withdrawing: what it changes, and a way to keep the place."""
    booking = _own_booking(volunteer, assignment_id)
    if booking.status not in ("confirmed", "waitlisted"):
        flash(_("This booking is no longer active."), "error")
        return redirect(url_for("bookings_pages.schedule"))
    session = db.session.get_one(TrainingSession, booking.session_id)
    waiting = db.session.scalar(
        sa.select(sa.func.count(Assignment.id)).where(
            Assignment.role_id == booking.role_id, Assignment.status == "waitlisted"
        )
    )
    return render_template(
        "bookings/withdraw.html",
        booking=booking,
        session=session,
        late=booking.status == "confirmed" and bookings.is_late(session),
        waiting=waiting,
        form=ReasonForm(),
    )


@bp.post("/me/bookings/<int:assignment_id>/<any(withdraw, accept, decline):action>")
@volunteer_required
def answer(volunteer: Volunteer, assignment_id: int, action: str) -> ResponseReturnValue:
    """Accept or decline a proposal, or withdraw from a booking."""
    booking = _own_booking(volunteer, assignment_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("bookings_pages.schedule"))
    reason = (form.reason.data or "").strip() or None
    act = {
        "accept": lambda: bookings.accept(booking),
        "decline": lambda: bookings.decline(booking, reason),
        "withdraw": lambda: bookings.withdraw(booking, reason),
    }[action]
    if commit(act) is not REFUSED:
        flash(
            {
                "accept": _("Thank you: you are confirmed."),
                "decline": _("Declined. We will find someone else."),
                "withdraw": _("You have withdrawn."),
            }[action],
            "success",
        )
    return redirect(url_for("bookings_pages.schedule"))


@bp.get("/me/schedule")
@volunteer_required
def schedule(volunteer: Volunteer) -> ResponseReturnValue:
    """The volunteer's coming proposals, confirmed sessions and waitlist places."""
    rows = db.session.execute(
        sa.select(Assignment, TrainingSession)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status.in_(("proposed", "confirmed", "waitlisted")),
            TrainingSession.ends_at >= utcnow(),
        )
        .order_by(TrainingSession.starts_at)
    ).all()
    groups = {"proposed": [], "confirmed": [], "waitlisted": []}
    for booking, session in rows:
        groups[booking.status].append((booking, session))
    # Only a confirmed crew learns who else comes and what support participants need.
    crew = crews([session.id for _booking, session in groups["confirmed"]], volunteer.id)
    # The check-in page is for the day itself: the link shows from the session's day.
    local = display_timezone()
    today = utcnow().astimezone(local).date()
    checkin_today = {
        session.id
        for _booking, session in groups["confirmed"]
        if session.starts_at.astimezone(local).date() <= today
    }
    return render_template(
        "bookings/schedule.html",
        groups=groups,
        crews=crew,
        checkin_today=checkin_today,
        need_names=dict(vocabulary_choices("accessibility_skills")),
        form=ReasonForm(),
        calendar=None,
    )


@bp.post("/me/calendar-link")
@volunteer_required
def calendar_link(volunteer: Volunteer) -> ResponseReturnValue:
    """A new private calendar link, shown once; the old one stops working."""
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("bookings_pages.schedule"))
    token = rotate_feed_token(volunteer_id=volunteer.id)
    db.session.commit()
    links = subscribe_links(feed_url("v", token))
    return render_template("bookings/calendar_link.html", subscribe=links)
