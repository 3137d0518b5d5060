"""A volunteer's pages: profile and weekly availability, sessions that fit, sign-ups,
proposals to answer, and the schedule with a private calendar link."""

from __future__ import annotations

import functools
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from coordinator.bookings import operations as bookings
from coordinator.bookings.models import Assignment
from coordinator.calendar.tokens import feed_url, rotate_feed_token, subscribe_links
from coordinator.database import utcnow
from coordinator.errors import NotFound
from coordinator.extensions import db
from coordinator.matching import loader
from coordinator.matching.constraints import Rules
from coordinator.matching.problem import Problem
from coordinator.people.operations import update_volunteer
from coordinator.sessions.models import TrainingSession
from coordinator.vocabularies.terms import vocabulary
from coordinator.web.auth_pages import ward_choices
from coordinator.web.forms import (
    DAY_BLOCKS,
    REFUSED,
    EmptyForm,
    ProfileForm,
    ReasonForm,
    commit,
    options,
)

bp = Blueprint("me", __name__, url_prefix="/me")
FIT_HORIZON = timedelta(days=60)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BLOCK_NAMES = {"morning": "Morning", "afternoon": "Afternoon", "evening": "Evening"}


def volunteer_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.volunteer is None:
            flash(_("These pages are for volunteers."), "error")
            return redirect(url_for("pages.home"))
        return view(current_user.volunteer, *args, **kwargs)

    return wrapper


def choices(name: str, current=()) -> list[tuple[str, str]]:
    """A vocabulary as form choices, labelled in the page's language, plus codes the
    volunteer already has that the vocabulary lacks (nothing they chose disappears)."""
    english = str(get_locale()) == "en"
    terms = [(t["code"], t["label_en"] if english else t["label"]) for t in vocabulary(name)]
    known = {code for code, _label in terms}
    return terms + [(code, code) for code in current if code not in known]


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


@bp.route("/profile", methods=["GET", "POST"])
@volunteer_required
def profile(volunteer):
    form = ProfileForm(obj=volunteer) if request.method == "GET" else ProfileForm()
    form.home_ward.choices = options(ward_choices())
    form.skills.choices = options(choices("skills", volunteer.skills))
    form.languages.choices = options(choices("languages", volunteer.languages))
    form.accessibility_skills.choices = options(
        choices("accessibility_skills", volunteer.accessibility_skills)
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
            return redirect(url_for("me.profile"))
    status = 422 if request.method == "POST" else 200
    return render_template("me/profile.html", form=form, volunteer=volunteer), status


def _fits(volunteer) -> list[dict]:
    """Upcoming sessions with a role this volunteer may take: skills, free time, near
    enough, no clash with their bookings (the matcher's own rules)."""
    now = utcnow()
    loaded = loader.load(now, now + FIT_HORIZON)
    problem = loaded.problem
    me = next((v for v in problem.volunteers if v.id == volunteer.id), None)
    if me is None:
        return []
    rules = Rules(
        Problem(
            [me],
            problem.sessions,
            problem.roles,
            problem.bookings,
            problem.neighbours,
            problem.travel_gap,
        )
    )
    mine = [rules.session[b.session_id] for b in problem.bookings if b.volunteer_id == me.id]
    open_roles = {r.id: r for r in problem.roles}
    fits = []
    for session in db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.id.in_(loaded.versions))
        .order_by(TrainingSession.starts_at)
    ):
        plain = rules.session[session.id]
        if any(rules.conflict(plain, other) for other in mine):
            continue
        if sum(1 for other in mine if other.week == plain.week) >= me.max_per_week:
            continue
        roles = [
            role
            for role in session.roles
            if role.id in open_roles and rules.eligible(me, open_roles[role.id])
        ]
        if roles:
            fits.append({"session": session, "roles": roles, "distance": rules.distance(me, plain)})
    return fits


@bp.get("/fits")
@volunteer_required
def fits(volunteer):
    return render_template("me/fits.html", fits=_fits(volunteer), form=EmptyForm())


@bp.post("/sessions/<int:session_id>/signup")
@volunteer_required
def sign_up(volunteer, session_id: int):
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
    return redirect(url_for("me.schedule"))


def _own_booking(volunteer, assignment_id: int) -> Assignment:
    booking = db.session.get(Assignment, assignment_id)
    if booking is None or booking.volunteer_id != volunteer.id:
        raise NotFound(_("No such booking."))
    return booking


@bp.post("/bookings/<int:assignment_id>/<any(withdraw, accept, decline):action>")
@volunteer_required
def answer(volunteer, assignment_id: int, action: str):
    booking = _own_booking(volunteer, assignment_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("me.schedule"))
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
    return redirect(url_for("me.schedule"))


@bp.get("/schedule")
@volunteer_required
def schedule(volunteer):
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
    return render_template("me/schedule.html", groups=groups, form=ReasonForm(), calendar=None)


@bp.post("/calendar-link")
@volunteer_required
def calendar_link(volunteer):
    """A new private calendar link, shown once; the old one stops working."""
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("me.schedule"))
    token = rotate_feed_token(volunteer_id=volunteer.id)
    db.session.commit()
    links = subscribe_links(feed_url("v", token))
    return render_template("me/calendar_link.html", subscribe=links)
