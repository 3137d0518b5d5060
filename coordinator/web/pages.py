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
