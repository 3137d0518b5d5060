"""Admins' pages: users and their roles, and the reference data (wards and the
digital-competence framework) imported from files."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from coordinator.competences.operations import import_framework
from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.geography.operations import import_wards, parse_wards
from coordinator.paging import Page, count, page_args, paged
from coordinator.people.forms import ReferenceImportForm, ScopesForm
from coordinator.people.logins import sign_out_everywhere
from coordinator.people.models import MAX_ID, USER_ROLES, User
from coordinator.people.scopes import scopes_view, set_scopes
from coordinator.web.access import admin_required
from coordinator.web.forms import MAX_UPLOAD_BYTES, REFUSED, EmptyForm, commit

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 200  # users a page


@bp.get("/users")
@admin_required
def users() -> ResponseReturnValue:
    """Logins by email (a search narrows them), each with its role and whether active."""
    query = sa.select(User)
    search = (request.args.get("q") or "").strip().lower()
    if search:
        query = query.where(User.email.contains(search, autoescape=True))
    limit, offset = page_args(PAGE_SIZE)
    found = db.session.scalars(paged(query.order_by(User.email, User.id), limit, offset)).all()
    return render_template(
        "people/admin/users.html",
        users=found,
        page=Page(count(query), limit, offset, len(found)),
        roles=USER_ROLES,
        search=search,
        form=EmptyForm(),
    )


@bp.post("/users/<int:user_id>")
@admin_required
def update_user(user_id: int) -> ResponseReturnValue:
    """Change a login's role or (de)activate it; nobody removes their own admin access."""
    user = db.session.get(User, user_id)
    role = request.form.get("role")
    active = request.form.get("active") == "1"
    if not EmptyForm().validate_on_submit() or user is None or role not in USER_ROLES:
        flash(_("That change could not be made."), "error")
    elif user.id == current_user.id and (role != "admin" or not active):
        flash(_("You cannot remove your own administrator access."), "error")
    else:
        user.role, user.active = role, active
        db.session.commit()
        flash(
            _("Saved: %(email)s is now %(role)s.", email=user.email, role=_(role.capitalize())),
            "success",
        )
    return redirect(url_for("admin.users", q=request.args.get("q") or None))


@bp.post("/users/<int:user_id>/sign-out")
@admin_required
def sign_out_user(user_id: int) -> ResponseReturnValue:
    """End every page login of a user and revoke their API tokens (a lost phone, a
    leaked password); they log in again with their password."""
    user = db.session.get(User, user_id)
    if not EmptyForm().validate_on_submit() or user is None:
        flash(_("That change could not be made."), "error")
    else:
        sign_out_everywhere(user)
        db.session.commit()
        flash(_("%(email)s has been signed out everywhere.", email=user.email), "success")
    return redirect(url_for("admin.users", q=request.args.get("q") or None))


@bp.route("/users/<int:user_id>/scopes", methods=["GET", "POST"])
@admin_required
def user_scopes(user_id: int) -> ResponseReturnValue:
    """Grant and withdraw the units an organizer works for (none: national)."""
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        abort(404)
    form = ScopesForm()
    if request.method == "GET":
        form.units.data = " ".join(unit["code"] for unit in scopes_view(user)["units"])
    elif form.validate_on_submit():
        codes = [code for code in re.split(r"[\s,;]+", form.units.data or "") if code]
        if commit(lambda: set_scopes(user, codes, granted_by=current_user), form) is not REFUSED:
            flash(_("Saved: the units of %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.user_scopes", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "people/admin/scopes.html", user=user, scopes=scopes_view(user), form=form
    ), status


def _read_upload(form: ReferenceImportForm) -> str | None:
    raw = form.file.data.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        form.file.errors = [_("The file is larger than 2 MB.")]
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [_("Save the file in UTF-8.")]
        return None


@bp.route("/reference", methods=["GET", "POST"])
@admin_required
def reference() -> ResponseReturnValue:
    """Upload wards (JSON or CSV with neighbours) or the competence framework (JSON)."""
    form = ReferenceImportForm()
    problems: dict = {}
    if form.validate_on_submit() and (text := _read_upload(form)) is not None:
        try:
            if form.kind.data == "wards":
                count = import_wards(parse_wards(text, form.file.data.filename or "wards.csv"))
            else:
                count = import_framework(json.loads(text))
            db.session.commit()
        except (ValueError, KeyError, TypeError, AttributeError):
            db.session.rollback()
            form.file.errors = [_("The file could not be read: check its format.")]
        except DomainError as error:
            db.session.rollback()
            problems = error.messages or {"": [error.message]}
        else:
            flash(_("%(n)d entries imported.", n=count), "success")
            return redirect(url_for("admin.reference"))
    failed = request.method == "POST" and (form.errors or problems)
    return render_template("people/admin/reference.html", form=form, problems=problems), (
        422 if failed else 200
    )
