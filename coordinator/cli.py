"""Commands: seed-demo, create-user, worker, relay-events, import-wards, import-competences.

`flask --app wsgi db upgrade` comes from Flask-Migrate.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from coordinator.competences.operations import DEFAULT_FRAMEWORK, import_framework_file
from coordinator.demo import seed_demo
from coordinator.errors import DomainError
from coordinator.events.relay import requeue_lost, sweep
from coordinator.extensions import db
from coordinator.geography.cli import geography_cli
from coordinator.geography.operations import import_wards_file
from coordinator.notifications.texts import command_line_locale, say, speaking
from coordinator.people.operations import create_user
from coordinator.people.scopes import set_scopes
from coordinator.web.labels import N_
from coordinator.worker import run_worker


def _fail(error: DomainError) -> None:
    db.session.rollback()
    with speaking(command_line_locale()):  # the rule's words, in the terminal's language
        message, messages = error.message, error.messages
    details = [
        f"{field}: {' '.join(map(str, texts))}"
        for field, texts in messages.items()
        if list(texts) != [message]
    ]
    raise click.ClickException(" ".join([message, *details]))


def _cannot_read(path: str | None, error: Exception) -> str:
    return say(N_("Cannot read %(path)s: %(error)s"), path=path, error=error)


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "organizer", "volunteer"]), required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option(
    "--unit",
    "units",
    multiple=True,
    help="An organizer's province or ward code (repeatable); none: national.",
)
@with_appcontext
def create_user_command(email: str, role: str, password: str, units: tuple[str, ...]) -> None:
    """Create a login (an organizer scoped to provinces or wards with --unit)."""
    if len(password) < 10:
        raise click.ClickException(say(N_("The password needs at least 10 characters.")))
    if "@" not in email:
        raise click.ClickException(say(N_("Not an email address: %(email)s"), email=email))
    try:
        user = create_user(email, role, password)
        kept = set_scopes(user, list(units)) if units else []
        db.session.commit()
    except DomainError as error:
        _fail(error)
    reach = f" for {', '.join(kept)}" if kept else (" (national)" if role == "organizer" else "")
    click.echo(f"created {role} {user.email} (id {user.id}){reach}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load demo wards, competences, squads, volunteers and sessions (idempotent)."""
    counts = seed_demo()
    db.session.commit()
    click.echo(", ".join(f"{name}: {n}" for name, n in counts.items()))


@click.command("import-wards")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_wards_command(path: str) -> None:
    """Import wards and neighbours from a JSON or CSV file."""
    try:
        count = import_wards_file(path)
        db.session.commit()
    except DomainError as error:
        _fail(error)
    except (ValueError, KeyError) as error:
        raise click.ClickException(_cannot_read(path, error)) from None
    click.echo(f"imported {count} wards")


@click.command("import-competences")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), required=False)
@with_appcontext
def import_competences_command(path: str | None) -> None:
    """Import the competence framework (default: DigComp 2.2 plus using AI)."""
    try:
        count = import_framework_file(path or DEFAULT_FRAMEWORK)
        db.session.commit()
    except DomainError as error:
        _fail(error)
    except (ValueError, KeyError) as error:
        raise click.ClickException(_cannot_read(path, error)) from None
    click.echo(f"imported {count} areas and competences")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queues", default=None, help="Comma-separated queue names (default: all).")
@with_appcontext
def worker_command(burst: bool, queues: str | None) -> None:
    """Run an RQ worker with its scheduler, inside the app."""
    names = queues.split(",") if queues else list(current_app.config["RQ_QUEUES"])
    run_worker(current_app._get_current_object(), names, burst=burst)


@click.command("relay-events")
@with_appcontext
def relay_events_command() -> None:
    """Enqueue committed events that never reached Redis, and (after a Redis data loss)
    events whose jobs are gone before they were processed."""
    click.echo(f"enqueued {sweep(min_age_seconds=0)} events")
    click.echo(f"enqueued again {requeue_lost(min_age_seconds=0)} events whose jobs were lost")


@click.command("refresh-progress-counts")
@with_appcontext
def refresh_progress_counts_command() -> None:
    """Recompute the maintained progress counts, report rows and hours from the raw rows
    (after a bulk load)."""
    from coordinator.progress import hours_kept, levels

    written = levels.refresh() + hours_kept.refresh()
    db.session.commit()
    click.echo(f"{written} progress count rows")


def init_app(app: Flask) -> None:
    for command in (
        create_user_command,
        seed_demo_command,
        import_wards_command,
        import_competences_command,
        worker_command,
        relay_events_command,
        refresh_progress_counts_command,
        geography_cli,
    ):
        app.cli.add_command(command)
