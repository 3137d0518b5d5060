"""The home page: upcoming sessions. Each feature's pages live in its own folder
(`coordinator/<feature>/pages.py`)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.web.i18n import prefetch_ward_names

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    """Upcoming sessions."""
    sessions = db.session.scalars(
        sa.select(TrainingSession)
        .where(
            TrainingSession.starts_at >= utcnow(), TrainingSession.status == SessionStatus.PUBLISHED
        )
        .order_by(TrainingSession.starts_at)
        .limit(20)
    ).all()
    prefetch_ward_names(s.ward for s in sessions)  # one query, not one per session
    return render_template("home.html", sessions=sessions)
