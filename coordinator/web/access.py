"""Who may open a page: decorators shared by the features' pages. A caller without the
role is sent home with a message (never a bare 403: a page is for people)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

View = Callable[..., ResponseReturnValue]


def organizer_required(view: View) -> View:
    """Organizers (and admins) only."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs) -> ResponseReturnValue:
        if not current_user.has_role("organizer"):
            flash(_("These pages are for organizers."), "error")
            return redirect(url_for("pages.home"))
        return view(*args, **kwargs)

    return wrapper


def volunteer_required(view: View) -> View:
    """Volunteers only; the view receives the caller's Volunteer first."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs) -> ResponseReturnValue:
        if current_user.volunteer is None:
            flash(_("These pages are for volunteers."), "error")
            return redirect(url_for("pages.home"))
        return view(current_user.volunteer, *args, **kwargs)

    return wrapper


def admin_required(view: View) -> View:
    """Administrators only."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs) -> ResponseReturnValue:
        if current_user.role != "admin":
            flash(_("These pages are for administrators."), "error")
            return redirect(url_for("pages.home"))
        return view(*args, **kwargs)

    return wrapper
