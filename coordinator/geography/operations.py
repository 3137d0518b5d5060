"""The map's operations: wards and neighbours from a file, lookups by code or slug, and
the history of units (which current unit a former one's figures roll up into). The
national list and the merger files are in `national.py` and `changes.py`."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator.database import utcnow
from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.models import (
    UNIT_TYPES,
    Province,
    ProvinceType,
    Ward,
    ward_neighbors,
    ward_successors,
)
from coordinator.schemas import display_timezone


def parse_wards(text: str, filename: str) -> list[dict[str, Any]]:
    """Rows {code, name, name_en, district, province, type, neighbors[]} from JSON
    ({"province": {...}, "district": {...}, "wards": [...]}) or CSV (those columns, with
    neighbours split by ';'). A JSON file's province is created if missing."""
    if filename.lower().endswith(".json"):
        data = json.loads(text)
        district = (data.get("district") or {}).get("code") if isinstance(data, dict) else None
        province = (data.get("province") or {}) if isinstance(data, dict) else {}
        if province:
            _ensure_province(province)
        rows = data["wards"] if isinstance(data, dict) else data
        return [
            {
                **row,
                "district": row.get("district", district),
                "province": row.get("province", province.get("code")),
            }
            for row in rows
        ]
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        neighbors = [n.strip() for n in (row.get("neighbors") or "").split(";") if n.strip()]
        rows.append({**row, "neighbors": neighbors})
    return rows


def _ensure_province(entry: dict[str, Any]) -> None:
    if db.session.get(Province, entry["code"]) is None:
        db.session.add(
            Province(
                code=entry["code"],
                slug=entry["slug"],
                name=entry["name"],
                type=entry.get("type", ProvinceType.PROVINCE.value),
            )
        )
        db.session.flush()


def import_wards(rows: list[dict[str, Any]]) -> int:
    """Upsert wards and make neighbour links symmetric. All rows are checked first, so a
    bad file changes nothing."""
    errors: dict[str, list[LazyString]] = {}
    codes = set()
    for index, row in enumerate(rows, start=1):
        if not row.get("code") or not row.get("name"):
            errors[f"row {index}"] = [_l("code and name are required.")]
        codes.add(row.get("code"))
    existing = set(db.session.scalars(sa.select(Ward.code)))
    provinces = set(db.session.scalars(sa.select(Province.code)))
    for index, row in enumerate(rows, start=1):
        unknown = [n for n in row.get("neighbors", []) if n not in codes | existing]
        if unknown:
            errors[f"row {index}"] = [
                _l("Unknown neighbours: %(codes)s.", codes=", ".join(unknown))
            ]
        if row.get("province") and row["province"] not in provinces:
            errors.setdefault(f"row {index}", []).append(
                _l("Unknown province '%(code)s'.", code=row["province"])
            )
        if row.get("type") and row["type"] not in UNIT_TYPES:
            errors.setdefault(f"row {index}", []).append(
                _l(
                    "%(column)s: must be one of: %(choices)s.",
                    column="type",
                    choices=", ".join(UNIT_TYPES),
                )
            )
    if errors:
        raise Invalid(_l("The ward file has errors."), errors)
    for row in rows:
        ward = db.session.get(Ward, row["code"]) or Ward(code=row["code"])
        ward.name = row["name"]
        ward.name_en = row.get("name_en") or None
        ward.district = row.get("district") or None
        ward.province_code = row.get("province") or ward.province_code
        ward.type = row.get("type") or ward.type
        db.session.add(ward)
    db.session.flush()
    pairs = {(row["code"], n) for row in rows for n in row.get("neighbors", [])}
    pairs |= {(b, a) for a, b in pairs}
    present = set(
        db.session.execute(
            sa.select(ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code)
        ).tuples()
    )
    missing = pairs - present
    if missing:
        db.session.execute(
            ward_neighbors.insert(),
            [{"ward_code": a, "neighbor_code": b} for a, b in sorted(missing)],
        )
    return len(rows)


def import_wards_file(path: str | Path) -> int:
    path = Path(path)
    return import_wards(parse_wards(path.read_text(encoding="utf-8"), path.name))


def set_neighbors(code: str, neighbor_codes: list[str]) -> list[str]:
    """Replace one ward's neighbours (kept symmetric); the new list, sorted."""
    ward = require_ward(code)
    wanted = {require_ward(n, "neighbors").code for n in neighbor_codes} - {ward.code}
    db.session.execute(
        ward_neighbors.delete().where(
            sa.or_(
                ward_neighbors.c.ward_code == ward.code,
                ward_neighbors.c.neighbor_code == ward.code,
            )
        )
    )
    pairs = [(ward.code, n) for n in sorted(wanted)] + [(n, ward.code) for n in sorted(wanted)]
    if pairs:
        db.session.execute(
            ward_neighbors.insert(), [{"ward_code": a, "neighbor_code": b} for a, b in pairs]
        )
    return sorted(wanted)


def neighbors_of(code: str) -> set[str]:
    """One ward's neighbours (the booking rules ask this for every check)."""
    return set(
        db.session.scalars(
            sa.select(ward_neighbors.c.neighbor_code).where(ward_neighbors.c.ward_code == code)
        )
    )


def neighbor_map() -> dict[str, set[str]]:
    """Each ward's neighbours, in one query."""
    result: dict[str, set[str]] = {}
    for a, b in db.session.execute(
        sa.select(ward_neighbors.c.ward_code, ward_neighbors.c.neighbor_code)
    ):
        result.setdefault(a, set()).add(b)
    return result


# Ward codes are slugs; anything else names no ward and is never sent to the database
# (PostgreSQL refuses a NUL character in a query parameter).
_WARD_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


def find_ward(code: str, *, or_slug: bool = False) -> Ward | None:
    """The ward with this code (or, when asked, this slug), or None."""
    if not _WARD_CODE.match(code):
        return None
    ward = db.session.get(Ward, code)
    if ward is None and or_slug:
        ward = db.session.scalar(sa.select(Ward).where(Ward.slug == code))
    return ward


def require_ward(code: str, field: str = "ward", *, current: bool = False) -> Ward:
    """The ward with this code; a field error (422) when there is none, or, with
    `current`, when it no longer exists (new things go into today's units)."""
    ward = find_ward(code)
    if ward is None:
        raise Invalid.field(field, _l("Unknown ward '%(code)s'.", code=code))
    if current and ward.valid_to is not None and ward.valid_to < today_local():
        names = ", ".join(w.name for w in successors_of(ward.code)) or "?"
        raise Invalid.field(
            field,
            _l(
                "%(name)s ended on %(date)s; it is now %(successors)s.",
                name=ward.name,
                date=f"{ward.valid_to:%d/%m/%Y}",
                successors=names,
            ),
        )
    return ward


def today_local() -> date:
    """Today's date where the units are (a unit ends at local midnight)."""
    return utcnow().astimezone(display_timezone()).date()


def exists_today() -> sa.ColumnElement[bool]:
    """A WHERE clause: units that have not ended (today included)."""
    return sa.or_(Ward.valid_to.is_(None), Ward.valid_to >= today_local())


def successors_of(code: str) -> list[Ward]:
    """The units that took over this one (the main one first)."""
    return list(
        db.session.scalars(
            sa.select(Ward)
            .join(ward_successors, ward_successors.c.successor_code == Ward.code)
            .where(ward_successors.c.predecessor_code == code)
            .order_by(ward_successors.c.main.desc(), Ward.code)
        )
    )


def successor_map() -> dict[str, list[str]]:
    """Each ended unit's successors' codes, the main one first, in one query."""
    result: dict[str, list[str]] = {}
    for old, new, _main in db.session.execute(
        sa.select(
            ward_successors.c.predecessor_code,
            ward_successors.c.successor_code,
            ward_successors.c.main,
        ).order_by(ward_successors.c.main.desc(), ward_successors.c.successor_code)
    ):
        result.setdefault(old, []).append(new)
    return result


def roll_up_map() -> dict[str, str]:
    """Every unit that ended, mapped to the current unit its figures count toward
    (following main successors through any number of reorganisations)."""
    main: dict[str, str] = {
        old: new
        for old, new in db.session.execute(
            sa.select(ward_successors.c.predecessor_code, ward_successors.c.successor_code).where(
                ward_successors.c.main
            )
        )
    }
    result = {}
    for code in main:
        seen, at = {code}, main[code]
        while at in main and at not in seen:  # a cycle in bad data stops, not loops
            seen.add(at)
            at = main[at]
        result[code] = at
    return result


def history_of(code: str) -> list[str]:
    """This unit and every former unit whose figures roll up into it."""
    return [code, *sorted(old for old, new in roll_up_map().items() if new == code)]
