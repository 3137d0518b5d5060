"""The population targets' import from CSV: one row per (unit, target group, year), the
unit a ward (column `ward`, or `unit`) or a province (column `unit`: its code or slug);
every bad row reported at once in plain words, in the language of the one who reads the
report (the import job runs in the uploader's). Flushes; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict

import sqlalchemy as sa
from flask_babel import gettext as _

from coordinator.csv_import import ImportReport, read_rows
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.people.scopes import Scope
from coordinator.progress.models import PopulationTarget
from coordinator.progress.operations import MAX_YEAR, MIN_YEAR, default_percents
from coordinator.vocabularies.terms import TARGET_GROUPS

TARGET_COLUMNS = (
    "ward",
    "unit",
    "target_group",
    "year",
    "baseline",
    "target_percent",
    "reached_before",
)
TARGET_REQUIRED = ("ward|unit", "target_group", "year", "baseline", "target_percent")
MAX_COUNT = 2**31 - 1  # INTEGER columns
_WHOLE = re.compile(r"^[+-]?\d+$")
_PERCENT = re.compile(r"^([+-]?\d+(?:[.,]\d+)?)\s*%?$")  # 80, 80.5, 80,5 (quoted), 80%


class TargetValues(TypedDict):
    """One good row of a targets file: the values of a PopulationTarget."""

    ward: str | None
    province_code: str | None
    target_group: str
    year: int
    baseline: int
    target_percent: float | None  # None: the movement's default for the group
    reached_before: int


class _Units(TypedDict):
    wards: set[str]
    provinces: dict[str, str]  # code and slug -> code
    defaults: dict[str, float]


def _whole(value: str, name: str, errors: list[str], *, low: int, high: int) -> int | None:
    if not value:
        errors.append(_("%(column)s: Required.", column=name))
        return None
    if not _WHOLE.match(value):
        errors.append(_("%(column)s: '%(value)s' is not a whole number.", column=name, value=value))
        return None
    number = int(value)
    if not low <= number <= high:
        errors.append(
            _(
                "%(column)s: must be from %(low)s to %(high)s.",
                column=name,
                low=low,
                high=high,
            )
        )
        return None
    return number


def _percent(value: str, errors: list[str]) -> float | None:
    match = _PERCENT.match(value)
    if not value:
        errors.append(
            _("%(column)s: Required (this group has no default).", column="target_percent")
        )
    elif match is None:
        errors.append(
            _("%(column)s: '%(value)s' is not a number.", column="target_percent", value=value)
        )
    else:
        number = Decimal(match.group(1).replace(",", "."))
        if 0 <= number <= 100:
            return float(number)
        errors.append(
            _(
                "%(column)s: %(value)s is outside 0-100 (a percentage).",
                column="target_percent",
                value=value,
            )
        )
    return None


def _unit(row: dict[str, str], units: _Units, errors: list[str]) -> tuple[str | None, str | None]:
    """(ward, province_code) of the row's unit: `ward` names a ward, `unit` a ward or a
    province (by code or slug)."""
    ward, unit = row.get("ward", ""), row.get("unit", "")
    if ward and unit and ward != unit:
        errors.append(_("%(column)s: ward and unit name different units.", column="unit"))
    elif unit and not ward:
        if unit in units["wards"]:
            return unit, None
        if unit in units["provinces"]:
            return None, units["provinces"][unit]
        errors.append(_("%(column)s: No province or ward '%(code)s'.", column="unit", code=unit))
    elif not ward:
        name = "unit" if "unit" in row else "ward"
        errors.append(_("%(column)s: Required.", column=name))
    elif ward not in units["wards"]:
        errors.append(_("%(column)s: Unknown ward '%(code)s'.", column="ward", code=ward))
    else:
        return ward, None
    return None, None


def _target_row(row: dict[str, str], units: _Units) -> tuple[TargetValues | None, list[str]]:
    """A row as PopulationTarget values, or the messages saying what is wrong with it."""
    errors: list[str] = []
    group = row["target_group"]
    ward, province = _unit(row, units, errors)
    if group not in TARGET_GROUPS:
        errors.append(
            _(
                "%(column)s: Unknown target group '%(group)s' (%(groups)s).",
                column="target_group",
                group=group,
                groups=", ".join(TARGET_GROUPS),
            )
        )
    year = _whole(row["year"], "year", errors, low=MIN_YEAR, high=MAX_YEAR)
    baseline = _whole(row["baseline"], "baseline", errors, low=0, high=MAX_COUNT)
    percent = (
        None
        if not row["target_percent"] and group in units["defaults"]
        else _percent(row["target_percent"], errors)
    )
    before = (
        _whole(row.get("reached_before", ""), "reached_before", errors, low=0, high=MAX_COUNT)
        if row.get("reached_before")
        else 0
    )
    if baseline is not None and before is not None and before > baseline:
        errors.append(_("%(column)s: cannot be more than the baseline.", column="reached_before"))
    if errors:
        return None, errors
    # Each None above came with an error message (an empty percent may use the default).
    assert year is not None and baseline is not None and before is not None
    return {
        "ward": ward,
        "province_code": province,
        "target_group": group,
        "year": year,
        "baseline": baseline,
        "target_percent": percent,
        "reached_before": before,
    }, []


_Key = tuple[str | None, str | None, str, int]


def _key(values: TargetValues) -> _Key:
    return (values["ward"], values["province_code"], values["target_group"], values["year"])


def _covered(scope: Scope, values: TargetValues) -> bool:
    if values["ward"]:
        return scope.covers(values["ward"])
    return scope.national or values["province_code"] in scope.province_codes


def import_targets(
    text: str,
    *,
    valid_rows_only: bool = False,
    progress: Callable[[float], None] | None = None,
    scope: Scope | None = None,
) -> ImportReport:
    """Create or update the file's population targets, keyed by (unit, target_group,
    year); an empty target_percent leaves the movement's default for the group. A file
    with any bad row changes nothing unless `valid_rows_only`; every bad row is reported
    either way. Flushes; the caller commits. `progress(fraction)` hears when the rows are
    read (a targets file is small: one row per unit and group).
    `scope`: the uploader's; a row of a unit outside it is a bad row."""
    report = ImportReport()
    provinces: dict[str, str] = {}
    for code, slug in db.session.execute(sa.select(Province.code, Province.slug)):
        provinces[code] = provinces[slug] = code
    units: _Units = {
        "wards": set(db.session.scalars(sa.select(Ward.code))),
        "provinces": provinces,
        "defaults": default_percents(),
    }
    valid: list[TargetValues] = []
    seen: dict[_Key, int] = {}
    for line, row in read_rows(text, report, columns=TARGET_COLUMNS, required=TARGET_REQUIRED):
        values, errors = _target_row(row, units)
        if values is not None and scope is not None and not _covered(scope, values):
            unit = values["ward"] or values["province_code"]
            errors = [_("'%(unit)s' is outside the units you organize.", unit=unit)]
            values = None
        if values is not None:
            key = _key(values)
            if key in seen:
                errors = [
                    _("Same ward, target group and year as line %(line)s.", line=seen[key])
                    if values["ward"]
                    else _("Same province, target group and year as line %(line)s.", line=seen[key])
                ]
            else:
                seen[key] = line
                valid.append(values)
        if errors:
            report.errors[line] = errors
    if progress is not None:
        progress(0.5)
    if report.errors and not valid_rows_only:
        return report
    years = {values["year"] for values in valid}
    existing = {
        (t.ward, t.province_code, t.target_group, t.year): t
        for t in db.session.scalars(
            sa.select(PopulationTarget).where(PopulationTarget.year.in_(years))
        )
    }
    for values in valid:
        target = existing.get(_key(values))
        if target is None:
            db.session.add(PopulationTarget(**values))
            report.created += 1
        else:
            for name in ("baseline", "target_percent", "reached_before"):
                setattr(target, name, values[name])
            report.updated += 1
    db.session.flush()
    return report
