"""A ward's public page: its upcoming sessions and calendar links."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator.calendar.tokens import public_subscribe_links
from coordinator.database import utcnow
from coordinator.errors import NotFound
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.sessions.models import TrainingSession

bp = Blueprint("geography_pages", __name__)


@bp.get("/wards/<code>")
def ward_page(code: str) -> ResponseReturnValue:
    """A ward's upcoming sessions and its calendar links."""
    ward = db.session.get(Ward, code)
    if ward is None:
        raise NotFound(_("No such ward."))
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.ward == code, TrainingSession.starts_at >= utcnow())
        .order_by(TrainingSession.starts_at)
        .limit(100)
    ).all()
    return render_template(
        "geography/ward.html",
        ward=ward,
        sessions=sessions,
        subscribe=public_subscribe_links(f"/calendar/wards/{code}.ics"),
    )
