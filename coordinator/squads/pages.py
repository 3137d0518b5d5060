"""A squad's public page: its upcoming sessions and calendar links."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from coordinator.bookings.models import Assignment, AssignmentStatus
from coordinator.calendar.tokens import public_subscribe_links
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from coordinator.squads.operations import get_squad

bp = Blueprint("squads_pages", __name__)


@bp.get("/squads/<int:squad_id>")
def squad_page(squad_id: int) -> ResponseReturnValue:
    """A squad's upcoming sessions (public data only) and its calendar links."""
    squad = get_squad(squad_id)
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.id.in_(
                sa.select(Assignment.session_id).where(
                    Assignment.squad_id == squad.id, Assignment.status == AssignmentStatus.CONFIRMED
                )
            ),
            TrainingSession.starts_at >= utcnow(),
        )
        .order_by(TrainingSession.starts_at)
        .limit(100)
    ).all()
    return render_template(
        "squads/squad.html",
        squad=squad,
        sessions=sessions,
        subscribe=public_subscribe_links(f"/calendar/squads/{squad.id}.ics"),
    )
