"""Logging in and out, changing one's password, signing out everywhere, volunteer
registration and the language switch (pages)."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from coordinator.errors import Conflict, DomainError
from coordinator.extensions import db
from coordinator.people.auth import hash_password, verify_password
from coordinator.people.logins import end_other_logins, log_in, log_out, sign_out_everywhere
from coordinator.people.models import User
from coordinator.people.operations import choose_language, create_volunteer, normalize_email
from coordinator.web.forms import (
    EmptyForm,
    LoginForm,
    PasswordForm,
    RegisterForm,
    apply_domain_error,
    options,
    ward_choices,
)
from coordinator.web.i18n import LOCALES

bp = Blueprint("auth", __name__)


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site paths: an open redirect would make a phishing link look like ours."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return fallback


def landing_for(user: User) -> str:
    """Where a user lands after logging in: their dashboard, schedule or the home page."""
    if user.has_role("organizer"):
        return url_for("sessions_pages.dashboard")
    return url_for("bookings_pages.schedule") if user.volunteer else url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Log in with email and password, then go where `next` says (same site only)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(
            sa.select(User).where(User.email == normalize_email(form.email.data))
        )
        if user is not None and user.active and verify_password(user, form.password.data):
            log_in(user, remember=form.remember.data)
            db.session.commit()
            session.pop("locale", None)  # the user's own saved language wins from now on
            return redirect(safe_next(request.args.get("next"), landing_for(user)))
        form.password.errors = [_("Wrong email or password.")]
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else (
        422 if form.errors else 200
    )


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Log out (a POST with the CSRF token)."""
    if EmptyForm().validate_on_submit():
        log_out()
        db.session.commit()
        flash(_("You are logged out."), "success")
    return redirect(url_for("pages.home"))


@bp.route("/me/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    """Change one's password: every other login ends, this one goes on."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not verify_password(user, form.current_password.data):
            form.current_password.errors = [_("This is not your current password.")]
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors = [_("Choose a password other than the current one.")]
        else:
            user.password_hash = hash_password(form.new_password.data)
            end_other_logins(user, api_tokens=form.revoke_api_tokens.data)
            db.session.commit()
            flash(_("Your password is changed; your other devices are logged out."), "success")
            return redirect(url_for("auth.password"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status


@bp.post("/me/sign-out-everywhere")
@login_required
def sign_out_everywhere_page() -> ResponseReturnValue:
    """End every login of one's own, this one too, and revoke one's API tokens."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("auth.password"))
    sign_out_everywhere(current_user._get_current_object())
    log_out()
    db.session.commit()
    flash(_("You are signed out on every device. Log in again to continue."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    """A volunteer creates their account and is logged in."""
    if current_user.is_authenticated:
        return redirect(landing_for(current_user))
    form = RegisterForm()
    form.home_ward.choices = options(ward_choices())
    if form.validate_on_submit():
        data = {
            "full_name": form.full_name.data.strip(),
            "email": form.email.data,
            "home_ward": form.home_ward.data,
            "languages": ["vi"],
            "locale": session.get("locale", "vi"),
        }
        try:
            volunteer = create_volunteer(data, password=form.password.data)
            db.session.commit()
        except Conflict:
            db.session.rollback()
            form.email.errors = [_("This email is already registered. Log in instead.")]
        except DomainError as error:
            db.session.rollback()
            if not apply_domain_error(form, error):
                flash(error.message, "error")
        else:
            user = db.session.get(User, volunteer.user_id)
            user.locale = data["locale"]
            log_in(user, remember=False)
            db.session.commit()
            flash(_("Welcome! Tell us your skills and when you are free."), "success")
            return redirect(url_for("people_pages.profile"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Switch language; remembered on the user (logged in) or in the browser session."""
    form = EmptyForm()
    chosen = request.form.get("locale")
    if form.validate_on_submit() and chosen in LOCALES:
        session["locale"] = chosen
        if current_user.is_authenticated:
            choose_language(current_user, chosen)
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("pages.home")))
