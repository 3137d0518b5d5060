"""Reading an uploaded CSV file row by row, with an error report per line.

The importers (volunteers, population targets) share the shape: check the header, read
at most `max_rows` rows, collect each bad row's messages under its line number, and
import nothing from a file with errors unless the organizer asks for the valid rows only.
The messages are written in the language of the one who reads the report (an import
job runs in the uploader's).
"""

from __future__ import annotations

import csv
import functools
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _

MAX_ROWS = 5000


@dataclass
class ImportReport:
    """What an import did: rows read, rows created or updated, and each bad line's messages."""

    created: int = 0
    updated: int = 0
    rows: int = 0
    errors: dict[int, list[str]] = field(default_factory=dict)  # line number -> messages
    created_ids: list[int] = field(default_factory=list)  # rows created, where they have ids

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, line: int, message: str) -> None:
        self.errors.setdefault(line, []).append(message)

    def discard_changes(self) -> None:
        """The counts after a rollback: nothing from this file was kept."""
        self.created = self.updated = 0
        self.created_ids = []


def decode(raw: bytes) -> str | None:
    """UTF-8 text (a byte-order mark, as spreadsheets write it, is dropped); None if the
    bytes are not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def column_names(header: list[str], aliases: dict[str, str] | None = None) -> list[str]:
    """The header's column names, a label in `aliases` (folded: "Họ và tên" as "họ và
    tên") read as the column it names."""
    names = [(name or "").strip() for name in header]
    if not aliases:
        return names
    return [aliases.get(unicodedata.normalize("NFC", name).casefold(), name) for name in names]


def header_problem(
    text: str,
    *,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    aliases: dict[str, str] | None = None,
) -> str | None:
    """What is wrong with the file's header (line 1), or None: a cheap check of a file's
    shape before it is stored for its import job. A required "a|b" wants either column."""
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    names = column_names(header, aliases)
    # "ward|unit": either column will do ("ward or unit")
    missing = [c.split("|") for c in required if not set(c.split("|")) & set(names)]
    if missing:
        either = (
            functools.reduce(lambda a, b: _("%(first)s or %(second)s", first=a, second=b), c)
            for c in missing
        )
        return _("Missing columns: %(columns)s.", columns=", ".join(either))
    unknown = [c for c in names if c not in columns]
    if unknown:
        return _("Unknown columns: %(columns)s.", columns=", ".join(unknown))
    return None


def read_rows(
    text: str,
    report: ImportReport,
    *,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    max_rows: int = MAX_ROWS,
    aliases: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row, cells stripped and missing cells empty.

    A header that lacks a required column or names an unknown one is reported on line 1
    and yields nothing. Line numbers are the file's own (blank lines count, as an editor
    shows them); rows beyond `max_rows` are reported once and not read.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = column_names(list(reader.fieldnames or []), aliases)
    problem = header_problem(text, columns=columns, required=required, aliases=aliases)
    if problem is not None:
        report.add(1, problem)
        return
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        report.rows += 1
        if report.rows > max_rows:
            report.rows -= 1
            report.add(line, _("At most %(count)s rows.", count=max_rows))
            return
        extra = row.pop(None, None)  # cells beyond the header
        if extra and any((cell or "").strip() for cell in extra):
            report.add(line, _("More cells than the header has columns."))
            continue
        yield line, {name: (row.get(name) or "").strip() for name in header}
