"""`flask geography import-national` and `flask geography import-changes FILE.csv`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.geography.changes import import_changes, parse_changes
from coordinator.geography.national import import_national, national_data
from coordinator.notifications.texts import command_line_locale, say, speaking
from coordinator.web.labels import N_

geography_cli = AppGroup("geography", help="The administrative map.")


def _fail(error: DomainError) -> None:
    db.session.rollback()
    with speaking(command_line_locale()):  # the rule's words, in the terminal's language
        lines = [error.message]
        lines += [f"  {where}: {'; '.join(map(str, m))}" for where, m in error.messages.items()]
    raise click.ClickException("\n".join(lines))


@geography_cli.command("import-national")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A list in the package's nested JSON format (default: the installed package's).",
)
def import_national_command(path: Path | None) -> None:
    """Provinces and units of the two-level map from `vietnam-provinces` (idempotent)."""
    try:
        data = national_data(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(
            say(N_("%(path)s: cannot read: %(error)s"), path=path, error=error)
        ) from None
    try:
        report = import_national(data)
    except (KeyError, TypeError) as error:
        db.session.rollback()
        raise click.ClickException(
            say(
                N_("%(path)s: not the package's format: missing %(error)s"),
                path=path,
                error=error,
            )
        ) from None
    db.session.commit()
    click.echo(
        f"{report.provinces} provinces, {report.units} units (data of {report.data_version}): "
        f"{len(report.created)} new, {len(report.renamed)} renamed"
    )
    for code, old, new in report.renamed:
        click.echo(f"  renamed {code}: {old} -> {new}")
    if report.unlisted:
        click.echo(
            f"{len(report.unlisted)} units are no longer listed (kept; say what replaced "
            f"them with import-changes): {', '.join(report.unlisted[:20])}"
        )


@geography_cli.command("import-changes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_changes_command(path: Path) -> None:
    """Merges and splits from a CSV file (old_code,new_code,new_name,province,date,main)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(
            say(N_("%(path)s: not UTF-8 text (save the file as CSV UTF-8)"), path=path)
        ) from None
    try:
        changed = import_changes(parse_changes(text))
        db.session.commit()
    except DomainError as error:
        _fail(error)
    click.echo(f"{changed} successor links added or changed")
