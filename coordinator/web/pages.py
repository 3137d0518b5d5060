"""The home page (the full web UI grows here)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_babel import get_locale

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from coordinator.vocabularies.terms import vocabulary

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


def _subscribe(path: str) -> dict:
    from flask import current_app

    from coordinator.calendar.tokens import subscribe_links

    return subscribe_links(f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}")


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int):
    """A session's public page (the URL calendar events link to)."""
    from coordinator.sessions.operations import get_session

    session = get_session(session_id)
    labels = {
        name: {t["code"]: t for t in vocabulary(name)}
        for name in ("venue_accessibility", "target_group")
    }
    english = str(get_locale()) == "en"

    def label(name: str, code: str) -> str:
        term = labels[name].get(code)
        return (term["label_en"] if english else term["label"]) if term else code

    return render_template(
        "session.html",
        session=session,
        venue_accessibility=[label("venue_accessibility", c) for c in session.venue_accessibility],
        target_group=label("target_group", session.target_group),
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


@bp.get("/squads/<int:squad_id>")
def squad_page(squad_id: int):
    """A squad's upcoming sessions (public data only) and its calendar links."""
    from coordinator.bookings.models import Assignment
    from coordinator.squads.operations import get_squad

    squad = get_squad(squad_id)
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.id.in_(
                sa.select(Assignment.session_id).where(
                    Assignment.squad_id == squad.id, Assignment.status == "confirmed"
                )
            ),
            TrainingSession.starts_at >= utcnow(),
        )
        .order_by(TrainingSession.starts_at)
        .limit(100)
    ).all()
    return render_template(
        "squad.html",
        squad=squad,
        sessions=sessions,
        subscribe=_subscribe(f"/calendar/squads/{squad.id}.ics"),
    )
