"""Importing wards and their neighbours from a JSON or CSV file."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.models import Ward, ward_neighbors


def parse_wards(text: str, filename: str) -> list[dict[str, Any]]:
    """Rows {code, name, name_en, district, neighbors[]} from JSON ({"wards": [...]}) or
    CSV (columns code,name,name_en,district,neighbors with neighbours split by ';')."""
    if filename.lower().endswith(".json"):
        data = json.loads(text)
        district = (data.get("district") or {}).get("code") if isinstance(data, dict) else None
        rows = data["wards"] if isinstance(data, dict) else data
        return [{**row, "district": row.get("district", district)} for row in rows]
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        neighbors = [n.strip() for n in (row.get("neighbors") or "").split(";") if n.strip()]
        rows.append({**row, "neighbors": neighbors})
    return rows


def import_wards(rows: list[dict[str, Any]]) -> int:
    """Upsert wards and make neighbour links symmetric. All rows are checked first, so a
    bad file changes nothing."""
    errors: dict[str, list[str]] = {}
    codes = set()
    for index, row in enumerate(rows, start=1):
        if not row.get("code") or not row.get("name"):
            errors[f"row {index}"] = ["code and name are required"]
        codes.add(row.get("code"))
    existing = set(db.session.scalars(sa.select(Ward.code)))
    for index, row in enumerate(rows, start=1):
        unknown = [n for n in row.get("neighbors", []) if n not in codes | existing]
        if unknown:
            errors[f"row {index}"] = [f"unknown neighbours: {', '.join(unknown)}"]
    if errors:
        raise Invalid("Tệp phường không hợp lệ / The ward file has errors.", errors)
    for row in rows:
        ward = db.session.get(Ward, row["code"]) or Ward(code=row["code"])
        ward.name = row["name"]
        ward.name_en = row.get("name_en") or None
        ward.district = row.get("district") or None
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


def find_ward(code: str) -> Ward | None:
    """The ward with this code, or None."""
    return db.session.get(Ward, code) if _WARD_CODE.match(code) else None


def require_ward(code: str, field: str = "ward") -> Ward:
    """The ward with this code; a field error (422) when there is none."""
    ward = find_ward(code)
    if ward is None:
        raise Invalid.field(field, f"Không có phường '{code}' / Unknown ward '{code}'.")
    return ward
