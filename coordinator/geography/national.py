"""The national map (34 provinces, 3,321 communes, wards and special zones since 1 July
2025) from the `vietnam-provinces` package, which publishes the General Statistics
Office's list. Re-running after a package update applies renames and adds new units;
units the package no longer lists are reported, never deleted: their history stays, and
`import-changes` says what replaced them."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import vietnam_provinces

from coordinator.extensions import db
from coordinator.geography.models import Province, ProvinceType, UnitType, Ward

# The day the two-level map took effect: units of the national list exist from then.
TWO_LEVEL_MAP_FROM = date(2025, 7, 1)
PROVINCE_TYPES = {"tỉnh": ProvinceType.PROVINCE, "thành phố trung ương": ProvinceType.CITY}
UNIT_TYPES = {"xã": UnitType.COMMUNE, "phường": UnitType.WARD, "đặc khu": UnitType.SPECIAL_ZONE}


def province_code(number: int) -> str:
    """Official province codes have two digits ("01" is Hanoi)."""
    return f"{number:02d}"


def unit_code(number: int) -> str:
    """Official commune and ward codes have five digits ("00187" is Phường Láng)."""
    return f"{number:05d}"


@dataclass
class NationalImport:
    """What an import did, for the CLI to print."""

    data_version: str
    provinces: int = 0
    units: int = 0
    created: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old, new
    unlisted: list[str] = field(default_factory=list)  # official codes not in the data


def national_data(path: Path | None = None) -> list[dict[str, Any]]:
    """The package's nested list (or a file in its format): provinces, each with its
    units."""
    path = path or vietnam_provinces.NESTED_DIVISIONS_JSON_PATH
    with path.open(encoding="utf-8") as file:
        data: list[dict[str, Any]] = json.load(file)
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of provinces")
    return data


def import_national(data: list[dict[str, Any]] | None = None) -> NationalImport:
    """Upsert every province and unit of the national list (flushes, never commits)."""
    data = national_data() if data is None else data
    report = NationalImport(data_version=vietnam_provinces.__data_version__)
    provinces = {p.code: p for p in db.session.scalars(sa.select(Province))}
    wards = {w.code: w for w in db.session.scalars(sa.select(Ward))}
    listed: set[str] = set()
    for entry in data:
        code = province_code(entry["code"])
        province = provinces.get(code) or Province(code=code)
        province.slug = entry["codename"]
        province.name = entry["name"]
        province.type = PROVINCE_TYPES[entry["division_type"]].value
        db.session.add(province)
        report.provinces += 1
        twins = Counter(unit["codename"] for unit in entry["wards"])
        for unit in entry["wards"]:
            code = unit_code(unit["code"])
            listed.add(code)
            slug = f"{entry['codename']}_{unit['codename']}"
            if twins[unit["codename"]] > 1:  # two units of one province share a name
                slug = f"{slug}_{code}"
            ward = wards.get(code)
            if ward is None:
                ward = Ward(code=code, valid_from=TWO_LEVEL_MAP_FROM)
                wards[code] = ward
                report.created.append(code)
                db.session.add(ward)
            elif ward.name != unit["name"]:
                report.renamed.append((code, ward.name, unit["name"]))
            ward.slug = slug
            ward.name = unit["name"]
            ward.type = UNIT_TYPES[unit["division_type"]].value
            ward.province_code = province_code(entry["code"])
            ward.district = None
            report.units += 1
    db.session.flush()
    report.unlisted = sorted(
        code
        for code, ward in wards.items()
        if code.isdigit() and code not in listed and ward.valid_to is None
    )
    return report
