"""`flask notifications sweep`: after Redis lost its data, put due messages back on RQ
(and restart the sweep that then repeats itself every NOTIFICATION_SWEEP_MINUTES)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from coordinator.extensions import db
from coordinator.notifications import scheduling

notifications_cli = AppGroup("notifications", help="Email notifications.")


@notifications_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue due messages whose job is gone; mark those whose retries ran out."""
    resent = scheduling.sweep()
    db.session.commit()
    click.echo(f"enqueued {resent} messages again")
