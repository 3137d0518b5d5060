"""`flask notifications sweep`: after Redis lost its data, put due messages back on RQ
(and restart the sweep that then repeats itself every NOTIFICATION_SWEEP_MINUTES).
`flask notifications costs [--month YYYY-MM]`: messages and estimated cost per province,
channel and month."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from coordinator.extensions import db
from coordinator.notifications import routing, scheduling
from coordinator.notifications.planning import clock

notifications_cli = AppGroup("notifications", help="Notifications: email, Zalo and SMS.")


@notifications_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue due messages whose job is gone; mark those whose retries ran out."""
    resent = scheduling.sweep()
    db.session.commit()
    click.echo(f"enqueued {resent} messages again")


@notifications_cli.command("costs")
@click.option("--month", default=None, help="YYYY-MM (default: this month, local time)")
def costs_command(month: str | None) -> None:
    """Messages sent and their estimated cost per province and channel in a month."""
    moment = clock()
    if month:
        try:
            moment = datetime.strptime(f"{month}-15", "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise click.BadParameter("YYYY-MM", param_hint="--month") from None
    rows = routing.costs(moment)
    click.echo("province\tchannel\tmessages\tVND")
    for province, channel, count, vnd in rows:
        click.echo(f"{province}\t{channel}\t{count}\t{vnd}")
    click.echo(f"total\t\t{sum(r[2] for r in rows)}\t{sum(r[3] for r in rows)}")
