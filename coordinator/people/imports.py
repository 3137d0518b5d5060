"""Importing volunteers from a CSV file, with an error report per row.

A file with any bad row imports nothing, unless the organizer asks for the valid rows
only. Rows go through the same schema and checks as the API (`check_new_volunteers`
raises what `create_volunteer` would), so a row is accepted exactly when the same
volunteer posted to /api/v1/volunteers would be; the checks read the database once per
file and the rows are written in a few flushes, not one savepoint and several queries
per row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from coordinator.csv_import import ImportReport, read_rows
from coordinator.errors import DomainError
from coordinator.people.operations import check_new_volunteers, create_volunteers
from coordinator.people.schemas import VolunteerCreateSchema
from coordinator.vocabularies.terms import vocabulary

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
# What each column is called in words: the template's Vietnamese header, the messages.
LABELS = {
    "full_name": _l("Full name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "home_ward": _l("Home ward"),
    "skills": _l("Skills"),
    "languages": _l("Languages"),
    "accessibility_skills": _l("Accessibility competencies"),
    "is_expert": _l("Expert"),
    "max_sessions_per_week": _l("Sessions per week at most"),
    "availability": _l("Availability"),
}
# A header in Vietnamese (or English) words is read as the codes: the template's header
# may be kept as it is.
VIETNAMESE_HEADER = {
    "full_name": "Họ và tên",
    "email": "Email",
    "phone": "Số điện thoại",
    "home_ward": "Phường/xã",
    "skills": "Kỹ năng",
    "languages": "Ngôn ngữ",
    "accessibility_skills": "Năng lực hỗ trợ tiếp cận",
    "is_expert": "Chuyên gia",
    "max_sessions_per_week": "Số buổi tối đa mỗi tuần",
    "availability": "Thời gian rảnh",
}
ENGLISH_HEADER = {
    "full_name": "Full name",
    "phone": "Phone",
    "home_ward": "Home ward",
    "skills": "Skills",
    "languages": "Languages",
    "accessibility_skills": "Accessibility competencies",
    "is_expert": "Expert",
    "max_sessions_per_week": "Sessions per week at most",
    "availability": "Availability",
}
HEADER_ALIASES = {
    unicodedata.normalize("NFC", words).casefold(): code
    for table in (VIETNAMESE_HEADER, ENGLISH_HEADER)
    for code, words in table.items()
}
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
# Yes and no as people write them; anything else is a question back, not a guess.
YES = {"1", "true", "yes", "y", "x", "có", "co", "c"}
NO = {"", "0", "false", "no", "n", "không", "khong", "k"}
SESSIONS_PER_WEEK = (1, 14)  # 0 would offer the volunteer nothing: a mistake, not a wish
# Vocabularies a column's codes come from (a code, or its Vietnamese or English label).
VOCABULARY_COLUMNS = ("skills", "languages", "accessibility_skills")
Progress = Callable[[float], None]
PROGRESS_EVERY = 250  # rows between two progress reports
READING_SHARE = 0.6  # of the progress bar: reading and checking rows; the rest is writing
WRITE_BATCH = 1000  # volunteers per flush


EXAMPLE_ROW = {
    "full_name": "Nguyễn Thị Lan",
    "email": "lan.nguyen@example.vn",
    "phone": "0912 345 678",
    "home_ward": "kim_lien",
    "skills": "Điện thoại thông minh cơ bản; cyber_safety",
    "languages": "vi; en",
    "accessibility_skills": "Ngôn ngữ ký hiệu",
    "is_expert": "không",
    "max_sessions_per_week": "2",
    "availability": "T3 18:00-21:00; T7 08:00-12:00",
}


def template_csv() -> str:
    """The header (in Vietnamese words) and an example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([VIETNAMESE_HEADER[column] for column in COLUMNS])
    writer.writerow([EXAMPLE_ROW[column] for column in COLUMNS])
    return out.getvalue()


def codes_for_people() -> dict[str, list[dict]]:
    """The codes (and their labels) each vocabulary column accepts, for the import page."""
    return {column: vocabulary(column) for column in VOCABULARY_COLUMNS}


def _fold(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip().casefold()


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", value or "") if part.strip()]


def term_lookup() -> dict[str, dict[str, str]]:
    """Per vocabulary column, every accepted spelling (code, Vietnamese and English
    label, folded) to its code; read once per file."""
    return {
        column: {
            _fold(spelling): term["code"]
            for term in vocabulary(column)
            for spelling in (term["code"], term["label"], term["label_en"])
        }
        for column in VOCABULARY_COLUMNS
    }


def _codes(column: str, value: str, known: dict[str, str], errors: dict) -> list[str]:
    found = []
    for item in _split(value):
        code = known.get(_fold(item))
        if code is None:
            errors.setdefault(column, []).append(
                _(
                    "“%(value)s” is not one of the codes (%(codes)s).",
                    value=item,
                    codes=", ".join(sorted(set(known.values()))),
                )
            )
        else:
            found.append(code)
    return found


def _windows(value: str, errors: dict) -> list[dict]:
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
        if match is None or day is None or not 0 <= day <= 6:
            errors.setdefault("availability", []).append(
                _("“%(value)s”: write it as “T3 18:00-21:00”.", value=part.strip())
            )
            continue
        windows.append(
            {"weekday": day, "start": match.group(2).zfill(5), "end": match.group(3).zfill(5)}
        )
    return windows


def _payload(row: dict, known: dict[str, dict[str, str]]) -> tuple[dict, dict[str, list]]:
    """The API's body for a row, and every problem of the row's cells (all of them, not
    the first): nothing is guessed, a value that is not clearly right is an error."""
    errors: dict[str, list] = {}
    payload = {
        "full_name": (row.get("full_name") or "").strip(),
        "email": (row.get("email") or "").strip(),
        "home_ward": (row.get("home_ward") or "").strip(),
        "availability": _windows(row.get("availability", ""), errors),
    }
    for column in REQUIRED:
        if not payload[column]:
            errors[column] = [_SCHEMA_MESSAGES["Missing data for required field."]]
    for column in VOCABULARY_COLUMNS:
        codes = _codes(column, row.get(column, ""), known[column], errors)
        if codes or column != "languages":
            payload[column] = codes
    expert = _fold(row.get("is_expert") or "")
    if expert in YES or expert in NO:
        payload["is_expert"] = expert in YES
    else:
        errors["is_expert"] = [
            _("“%(value)s” is neither yes nor no (có / không).", value=row["is_expert"])
        ]
    if (row.get("phone") or "").strip():
        payload["phone"] = row["phone"].strip()
    sessions = (row.get("max_sessions_per_week") or "").strip()
    if sessions:
        low, high = SESSIONS_PER_WEEK
        if not sessions.isdigit() or not low <= int(sessions) <= high:
            errors["max_sessions_per_week"] = [
                _(
                    "“%(value)s”: a whole number from %(low)d to %(high)d.",
                    value=sessions,
                    low=low,
                    high=high,
                )
            ]
        else:
            payload["max_sessions_per_week"] = int(sessions)
    return payload, errors


# marshmallow's own messages, said in the words of the import's reader.
_SCHEMA_MESSAGES = {
    "Not a valid email address.": _l("Not an email address."),
    "Missing data for required field.": _l("This column is empty."),
}


def _in_import_words(message: Any) -> Any:
    """A schema's message in the import's words; the schema has already said it in the
    reader's language (coordinator.schema_messages), so it is matched in that language."""
    for said, better in _SCHEMA_MESSAGES.items():
        if str(message) in (said, _(said)):
            return better
    return message


def _messages(errors: dict[str, Any]) -> list[str]:
    """Each problem as "Column: what is wrong", in words."""
    lines = []
    for name, messages in errors.items():
        if isinstance(messages, dict):  # nested (an availability window)
            messages = [m for nested in messages.values() for m in _flat(nested)]
        words = " ".join(str(_in_import_words(m)) for m in _flat(messages))
        label = LABELS.get(name)
        lines.append(f"{label}: {words}" if label else words)
    return lines


def _flat(messages: Any) -> list:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flat(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flat(value)]
    return [messages]


def _domain_messages(error: DomainError) -> list[str]:
    return _messages(error.messages or {"": [error.message]})


def import_volunteers(
    text: str, *, valid_rows_only: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Create the file's volunteers (flushes; the caller commits). `progress(fraction)`
    hears how far it is, for a progress bar."""
    report = ImportReport()
    schema = VolunteerCreateSchema()
    known = term_lookup()
    valid: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    total = max(text.count("\n"), 1)  # about the number of rows, for the progress only
    rows = read_rows(text, report, columns=COLUMNS, required=REQUIRED, aliases=HEADER_ALIASES)
    for line, row in rows:
        if progress is not None and report.rows % PROGRESS_EVERY == 0:
            progress(READING_SHARE * min(line / total, 1.0))
        payload, errors = _payload(row, known)
        try:
            data = schema.load(payload)
        except ma.ValidationError as error:
            found = error.messages if isinstance(error.messages, dict) else {"": error.messages}
            errors = {**found, **errors}  # the cell's own words first where both speak
        if errors:
            report.errors[line] = _messages(errors)
            continue
        email = data["email"].lower()
        if email in seen:
            report.add(
                line, f"{LABELS['email']}: " + _("the same as line %(line)d.", line=seen[email])
            )
            continue
        seen[email] = line
        valid.append((line, data))
    # Rows that pass the schema are checked even when others failed, so the report names
    # every problem (unknown ward, email taken) at once; the checks read the database
    # once for the whole file, not once per row.
    problems = check_new_volunteers([data for _line, data in valid])
    for index, error in problems.items():
        report.errors[valid[index][0]] = _domain_messages(error)
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
