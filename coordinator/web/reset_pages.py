"""Forgot my password (pages): ask for a link by email, then choose a new password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField

from coordinator.extensions import db
from coordinator.people.password_reset import request_reset, reset_password, user_for_token
from coordinator.web.forms import EMAIL, DataRequired, FlaskForm, Length, NewPasswordForm

bp = Blueprint("password_reset", __name__)


class ForgotForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), EMAIL, Length(max=320)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "email"},
    )


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot() -> ResponseReturnValue:
    """Ask for a link; the answer is the same whether or not the address has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        request_reset(form.email.data)
        db.session.commit()
        return render_template("auth/forgot_sent.html", email=form.email.data.strip())
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    """Choose a new password with the link from the mail (once, before it expires)."""
    user = user_for_token(token)
    if user is None:
        return render_template("auth/reset_invalid.html"), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        reset_password(user, form.new_password.data)
        db.session.commit()
        flash(_("Your new password is set. Log in with it."), "success")
        return redirect(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, email=user.email), status
