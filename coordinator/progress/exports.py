"""CSV exports of the progress figures (no personal data) and of volunteers' hours.

UTF-8 with a byte-order mark, so spreadsheets show Vietnamese names; text cells that a
spreadsheet would run as a formula are defused with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response

from coordinator.progress.hours import Hours
from coordinator.progress.operations import ProgressReport

PROGRESS_COLUMNS = (
    "year",
    "ward",
    "ward_name",
    "target_group",
    "baseline",
    "target_percent",
    "target",
    "reached_before",
    "enrolled",
    "reached",
    "reached_percent",
    "remaining",
    # added with the levels: a row of any level names its unit; `includes` the former
    # units (merged or split) whose figures it counts, by name, separated by "; "
    "level",
    "unit",
    "unit_name",
    "target_source",
    "includes",
)
VOLUNTEER_COLUMNS = (
    "volunteer_id",
    "full_name",
    "home_ward",
    "sessions",
    "minutes",
    "hours",
    "no_shows",
)
SQUAD_COLUMNS = ("squad_id", "name", "home_ward", "volunteers", "sessions", "minutes", "hours")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that could start a spreadsheet formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


# Lines per chunk of a streamed download.
CHUNK_ROWS = 500


def _csv(columns: tuple[str, ...], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The file in chunks of CHUNK_ROWS lines, so a long export is never whole in memory."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(cell) for cell in row])
        if count % CHUNK_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def progress_csv(report: ProgressReport) -> Iterator[str]:
    """One line per unit (ward, province or the country) and target group; totals are
    the sums of these lines."""
    return _csv(
        PROGRESS_COLUMNS,
        (
            (
                report.year,
                r.ward,
                r.ward_name,
                r.target_group,
                r.baseline,
                r.target_percent,
                r.target,
                r.reached_before,
                r.enrolled,
                r.reached,
                r.reached_percent,
                r.remaining,
                r.level,
                r.unit,
                r.unit_name,
                r.target_source,
                "; ".join(former.name for former in r.includes),
            )
            for r in report.rows
        ),
    )


def hours_csv(by: str, rows: Iterable[Hours]) -> Iterator[str]:
    """Volunteers' or squads' hours, most hours first."""
    if by == "squad":
        return _csv(
            SQUAD_COLUMNS,
            (
                (h.id, h.name, h.home_ward, h.volunteers, h.sessions, h.minutes, h.hours)
                for h in rows
            ),
        )
    return _csv(
        VOLUNTEER_COLUMNS,
        ((h.id, h.name, h.home_ward, h.sessions, h.minutes, h.hours, h.no_shows) for h in rows),
    )


def hours_filename(by: str, year: int | None) -> str:
    return f"hours-{by}-{year}.csv" if year else f"hours-{by}.csv"


def csv_response(chunks: Iterable[str], filename: str) -> Response:
    """A CSV download, streamed as it is written (rows that are still being read come from
    a connection of their own, see hours.iter_hours: writing needs no request context);
    organizers' data, so never kept by a shared cache."""
    return Response(
        iter(chunks),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
