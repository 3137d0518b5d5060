"""The home page (the full web UI grows here)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    """Upcoming sessions."""
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.starts_at >= utcnow(), TrainingSession.status == "published")
        .order_by(TrainingSession.starts_at)
        .limit(20)
    ).all()
    return render_template("home.html", sessions=sessions)


@bp.app_template_filter("local_time")
def local_time(value) -> str:
    """A UTC time shown in the display time zone, e.g. 'T3 02/12/2026 18:00'."""
    from coordinator.schemas import display_timezone

    local = value.astimezone(display_timezone())
    weekday = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"][local.weekday()]
    return f"{weekday} {local:%d/%m/%Y %H:%M}"


def _subscribe(path: str) -> dict:
    from flask import current_app

    from coordinator.calendar.tokens import subscribe_links

    return subscribe_links(f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}")


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int):
    """A session's public page (the URL calendar events link to)."""
    from coordinator.sessions.operations import get_session

    session = get_session(session_id)
    return render_template(
        "session.html",
        session=session,
        seats_left=max(session.capacity - session.registered_count, 0),
        subscribe=_subscribe(f"/calendar/wards/{session.ward}.ics"),
    )


@bp.get("/wards/<code>")
def ward_page(code: str):
    """A ward's upcoming sessions and its calendar links."""
    from coordinator.errors import NotFound
    from coordinator.geography.models import Ward

    ward = db.session.get(Ward, code)
    if ward is None:
        raise NotFound("Không có phường này / No such ward.")
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(TrainingSession.ward == code, TrainingSession.starts_at >= utcnow())
        .order_by(TrainingSession.starts_at)
        .limit(100)
    ).all()
    return render_template(
        "ward.html",
        ward=ward,
        sessions=sessions,
        subscribe=_subscribe(f"/calendar/wards/{code}.ics"),
    )
