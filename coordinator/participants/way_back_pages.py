"""The way back to a registration, without an account (pages): the private link's page
(cancel after a confirmation, or a new calendar link), asking for the links again by the
email address or phone number given, and the list a phone message links to."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from coordinator.bookings.models import Registration
from coordinator.bookings.registrations import cancel_registration
from coordinator.calendar.tokens import feed_url, rotate_feed_token, subscribe_links
from coordinator.extensions import db
from coordinator.participants.way_back import (
    manage_token,
    registration_for,
    registrations_for_list,
    request_links,
)
from coordinator.phones import looks_like_phone
from coordinator.sessions.models import TrainingSession
from coordinator.web.forms import (
    EMAIL,
    PHONE_CONTACT,
    DataRequired,
    EmptyForm,
    FlaskForm,
    Length,
    TextField,
)

bp = Blueprint("registration_pages", __name__)
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _email_unless_phone(form, field) -> None:
    """A contact that is not a phone number must look like an email address."""
    if field.data and not looks_like_phone(field.data):
        EMAIL(form, field)


class FindForm(FlaskForm):
    contact = TextField(
        _l("The phone number or email given when registering"),
        validators=[DataRequired(), Length(max=320), PHONE_CONTACT, _email_unless_phone],
    )


def _registration(token: str) -> tuple[Registration, TrainingSession]:
    registration = registration_for(token)
    if registration is None:
        abort(404)
    return registration, db.session.get_one(TrainingSession, registration.session_id)


@bp.route("/registrations/find", methods=["GET", "POST"])
def find() -> ResponseReturnValue:
    """Ask for the links again; the answer is the same whether or not the contact is known."""
    form = FindForm()
    if form.validate_on_submit():
        request_links(form.contact.data)
        db.session.commit()
        return render_template(
            "participants/find_sent.html",
            contact=form.contact.raw_data[0],
            by_phone=looks_like_phone(form.contact.data),
        )
    status = 422 if request.method == "POST" else 200
    return render_template("participants/find.html", form=form), status


@bp.get("/registrations/mine/<token>")
def mine(token: str) -> ResponseReturnValue:
    """The live registrations of everyone a phone message's link names."""
    registrations = registrations_for_list(token)
    if registrations is None:
        abort(404)
    rows = [
        (participant, db.session.get_one(TrainingSession, r.session_id), manage_token(r))
        for participant, r in registrations
    ]
    return render_template("participants/mine.html", rows=rows), 200, PRIVATE


@bp.get("/registrations/<token>")
def manage(token: str) -> ResponseReturnValue:
    """One's registration: when and where, cancel it, or a new calendar link."""
    registration, session = _registration(token)
    page = render_template(
        "participants/manage.html",
        registration=registration,
        session=session,
        token=token,
        form=EmptyForm(),
        confirm=request.args.get("confirm") == "cancel",
    )
    return page, 200, PRIVATE


@bp.post("/registrations/<token>/cancel")
def cancel(token: str) -> ResponseReturnValue:
    """Cancel (after the confirmation on the manage page); a waiting person moves up."""
    registration, session = _registration(token)
    if not EmptyForm().validate_on_submit():
        abort(400)
    cancel_registration(registration)
    db.session.commit()
    return render_template("participants/cancelled.html", session=session), 200, PRIVATE


@bp.post("/registrations/<token>/calendar-link")
def calendar_link(token: str) -> ResponseReturnValue:
    """A new private calendar link, shown once; the old one stops working."""
    registration, session = _registration(token)
    if not EmptyForm().validate_on_submit():
        abort(400)
    feed = rotate_feed_token(participant_id=registration.participant_id)
    db.session.commit()
    page = render_template(
        "participants/manage_calendar.html",
        session=session,
        token=token,
        subscribe=subscribe_links(feed_url("p", feed)),
    )
    return page, 200, PRIVATE
