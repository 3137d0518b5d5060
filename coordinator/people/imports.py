"""Importing volunteers from a CSV file, with an error report per row.

A file with any bad row imports nothing, unless the organizer asks for the valid rows
only. Rows go through the same schema and checks as the API (`check_new_volunteers`
raises what `create_volunteer` would), so a row is accepted exactly when the same
volunteer posted to /api/v1/volunteers would be; the checks read the database once per
file and the rows are written in a few flushes, not one savepoint and several queries
per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import marshmallow as ma

from coordinator.csv_import import ImportReport, read_rows
from coordinator.errors import DomainError
from coordinator.people.operations import check_new_volunteers, create_volunteers
from coordinator.people.schemas import VolunteerCreateSchema

COLUMNS = (
    "full_name",
    "email",
    "phone",
    "home_ward",
    "skills",
    "languages",
    "accessibility_skills",
    "is_expert",
    "max_sessions_per_week",
    "availability",
)
REQUIRED = ("full_name", "email", "home_ward")
WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "t2": 0,
    "t3": 1,
    "t4": 2,
    "t5": 3,
    "t6": 4,
    "t7": 5,
    "cn": 6,
}
_WINDOW = re.compile(r"^\s*(\w+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
TRUE = {"1", "true", "yes", "y", "x", "có", "co"}
Progress = Callable[[float], None]
PROGRESS_EVERY = 250  # rows between two progress reports
READING_SHARE = 0.6  # of the progress bar: reading and checking rows; the rest is writing
WRITE_BATCH = 1000  # volunteers per flush


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", value or "") if part.strip()]


def _windows(value: str) -> list[dict]:
    """'Tue 18:00-21:00; T7 08:00-12:00' (or a weekday number, 0 = Monday)."""
    windows = []
    for part in (value or "").split(";"):
        if not part.strip():
            continue
        match = _WINDOW.match(part)
        day = match and (
            WEEKDAYS.get(match.group(1).lower())
            if not match.group(1).isdigit()
            else int(match.group(1))
        )
        if match is None or day is None:
            raise ma.ValidationError(
                f"'{part.strip()}': dùng dạng 'T3 18:00-21:00' / use 'Tue 18:00-21:00'",
                "availability",
            )
        windows.append(
            {"weekday": day, "start": match.group(2).zfill(5), "end": match.group(3).zfill(5)}
        )
    return windows


def _payload(row: dict) -> dict:
    payload = {
        "full_name": (row.get("full_name") or "").strip(),
        "email": (row.get("email") or "").strip(),
        "home_ward": (row.get("home_ward") or "").strip(),
        "skills": _split(row.get("skills", "")),
        "accessibility_skills": _split(row.get("accessibility_skills", "")),
        "is_expert": (row.get("is_expert") or "").strip().lower() in TRUE,
        "availability": _windows(row.get("availability", "")),
    }
    if (row.get("phone") or "").strip():
        payload["phone"] = row["phone"].strip()
    if _split(row.get("languages", "")):
        payload["languages"] = _split(row["languages"])
    if (row.get("max_sessions_per_week") or "").strip():
        try:
            payload["max_sessions_per_week"] = int(row["max_sessions_per_week"])
        except ValueError as exc:
            raise ma.ValidationError(
                "Không phải số / Not a number.", "max_sessions_per_week"
            ) from exc
    return payload


def _messages(error: ma.ValidationError | DomainError) -> list[str]:
    if isinstance(error, DomainError):
        found = error.messages or {"": [error.message]}
    else:
        found = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    lines = []
    for name, messages in found.items():
        if isinstance(messages, dict):  # nested (an availability window)
            messages = [str(m) for m in messages.values()]
        text = "; ".join(str(m) for m in (messages if isinstance(messages, list) else [messages]))
        lines.append(f"{name}: {text}" if name else text)
    return lines


def import_volunteers(
    text: str, *, valid_rows_only: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Create the file's volunteers (flushes; the caller commits). `progress(fraction)`
    hears how far it is, for a progress bar."""
    report = ImportReport()
    schema = VolunteerCreateSchema()
    valid: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    total = max(text.count("\n"), 1)  # about the number of rows, for the progress only
    for line, row in read_rows(text, report, columns=COLUMNS, required=REQUIRED):
        if progress is not None and report.rows % PROGRESS_EVERY == 0:
            progress(READING_SHARE * min(line / total, 1.0))
        try:
            data = schema.load(_payload(row))
        except ma.ValidationError as error:
            report.errors[line] = _messages(error)
            continue
        email = data["email"].lower()
        if email in seen:
            report.add(line, f"email: trùng dòng {seen[email]} / same as line {seen[email]}")
            continue
        seen[email] = line
        valid.append((line, data))
    # Rows that pass the schema are checked even when others failed, so the report names
    # every problem (unknown ward, email taken) at once; the checks read the database
    # once for the whole file, not once per row.
    problems = check_new_volunteers([data for _line, data in valid])
    for index, error in problems.items():
        report.errors[valid[index][0]] = _messages(error)
    if progress is not None:
        progress(READING_SHARE)
    if report.errors and not valid_rows_only:
        return report  # one bad row: nothing from this file
    good = [data for index, (_line, data) in enumerate(valid) if index not in problems]
    for start in range(0, len(good), WRITE_BATCH):
        created = create_volunteers(good[start : start + WRITE_BATCH])
        report.created += len(created)
        report.created_ids.extend(volunteer.id for volunteer in created)
        if progress is not None:
            progress(READING_SHARE + (1 - READING_SHARE) * report.created / len(good))
    return report
