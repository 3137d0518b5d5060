"""Mergers and splits: which units replaced which, from a CSV file.

Columns: `old_code,new_code,new_name,province,date,main`. One row per (old, new) pair;
`date` is the first day of the new unit (the old one ends the day before); `main` is
`yes` for the successor that took most of a split unit (its figures roll up there), and
may be left empty when an old unit has one successor. `new_name` and `province` create
the new unit when it is not known yet (before `import-national`, say). Re-importing a
file changes nothing; a bad file changes nothing either.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward, ward_successors
from coordinator.geography.operations import find_ward

COLUMNS = ("old_code", "new_code", "new_name", "province", "date", "main")
YES, NO = {"yes", "y", "1", "true", "có"}, {"no", "n", "0", "false", "không", ""}


def parse_changes(text: str) -> list[dict[str, Any]]:
    """The rows of a changes file, checked; Invalid with every row's errors otherwise."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("old_code", "new_code", "date") if c not in (reader.fieldnames or ())]
    if missing:
        raise Invalid.field("file", _l("Missing columns: %(columns)s.", columns=", ".join(missing)))
    rows: list[dict[str, Any]] = []
    errors: dict[str, list[LazyString]] = {}
    for number, raw in enumerate(reader, start=2):  # line 1 is the header
        row = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        problems = []
        try:
            row["date"] = date.fromisoformat(row["date"])
        except ValueError:
            problems.append(_l("%(column)s: write the date as YYYY-MM-DD.", column="date"))
        main = row["main"].lower()
        if main not in YES | NO:
            problems.append(_l("%(column)s: yes or no.", column="main"))
        row["main"] = None if main == "" else main in YES
        old, new = find_ward(row["old_code"]), find_ward(row["new_code"])
        if old is None:
            problems.append(
                _l("%(column)s: unknown unit '%(code)s'.", column="old_code", code=row["old_code"])
            )
        if new is None and not (row["new_name"] and row["province"]):
            problems.append(
                _l(
                    "%(column)s: unknown unit '%(code)s' (give new_name and province).",
                    column="new_code",
                    code=row["new_code"],
                )
            )
        if new is None and row["province"] and db.session.get(Province, row["province"]) is None:
            problems.append(
                _l(
                    "%(column)s: unknown province '%(code)s'.",
                    column="province",
                    code=row["province"],
                )
            )
        if old is not None and isinstance(row["date"], date) and old.valid_from is not None:
            if row["date"] <= old.valid_from:
                problems.append(
                    _l(
                        "%(column)s: %(name)s began on %(date)s.",
                        column="date",
                        name=old.name,
                        date=f"{old.valid_from:%Y-%m-%d}",
                    )
                )
        if row["old_code"] == row["new_code"]:
            problems.append(_l("%(column)s: a unit cannot succeed itself.", column="new_code"))
        if problems:
            errors[f"line {number}"] = problems
        rows.append(row)
    by_old: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_old.setdefault(row["old_code"], []).append(row)
    for old_code, group in by_old.items():
        mains = [r for r in group if r["main"] or (r["main"] is None and len(group) == 1)]
        if len(mains) != 1:
            errors.setdefault(old_code, []).append(
                _l("%(column)s: exactly one successor must be main.", column="main")
            )
        if len({r["date"] for r in group}) > 1:
            errors.setdefault(old_code, []).append(
                _l("%(column)s: one date per old unit.", column="date")
            )
    if errors:
        raise Invalid(_l("The changes file has errors."), errors)
    for group in by_old.values():
        for row in group:
            row["main"] = bool(row["main"]) or (row["main"] is None and len(group) == 1)
    return rows


def import_changes(rows: list[dict[str, Any]]) -> int:
    """Apply checked rows: end the old units, create missing new ones, link them; the
    number of links added or changed. Flushes, never commits."""
    changed = 0
    for row in rows:
        old = find_ward(row["old_code"])
        new = find_ward(row["new_code"])
        assert old is not None  # parse_changes checked
        if new is None:
            new = Ward(
                code=row["new_code"],
                name=row["new_name"],
                province_code=row["province"],
                type=old.type,
                valid_from=row["date"],
            )
            db.session.add(new)
            db.session.flush()
        old.valid_to = row["date"] - timedelta(days=1)
        link = (
            db.session.execute(
                sa.select(ward_successors).where(
                    ward_successors.c.predecessor_code == old.code,
                    ward_successors.c.successor_code == new.code,
                )
            )
            .mappings()
            .first()
        )
        if link is None:
            db.session.execute(
                ward_successors.insert().values(
                    predecessor_code=old.code, successor_code=new.code, main=row["main"]
                )
            )
            changed += 1
        elif link["main"] != row["main"]:
            db.session.execute(
                ward_successors.update()
                .where(
                    ward_successors.c.predecessor_code == old.code,
                    ward_successors.c.successor_code == new.code,
                )
                .values(main=row["main"])
            )
            changed += 1
    db.session.flush()
    return changed
