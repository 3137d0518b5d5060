"""The population targets' import from CSV: one row per (ward, target group, year),
every bad row reported at once in plain words. Flushes; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict

import sqlalchemy as sa

from coordinator.csv_import import ImportReport, read_rows
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.progress.models import PopulationTarget
from coordinator.progress.operations import MAX_YEAR, MIN_YEAR
from coordinator.vocabularies.terms import TARGET_GROUPS

TARGET_COLUMNS = ("ward", "target_group", "year", "baseline", "target_percent", "reached_before")
TARGET_REQUIRED = ("ward", "target_group", "year", "baseline", "target_percent")
MAX_COUNT = 2**31 - 1  # INTEGER columns
_WHOLE = re.compile(r"^[+-]?\d+$")
_PERCENT = re.compile(r"^([+-]?\d+(?:[.,]\d+)?)\s*%?$")  # 80, 80.5, 80,5 (quoted), 80%


class TargetValues(TypedDict):
    """One good row of a targets file: the values of a PopulationTarget."""

    ward: str
    target_group: str
    year: int
    baseline: int
    target_percent: float
    reached_before: int


def _whole(value: str, name: str, errors: list[str], *, low: int, high: int) -> int | None:
    if not value:
        errors.append(f"{name}: Bắt buộc / Required.")
        return None
    if not _WHOLE.match(value):
        errors.append(f"{name}: '{value}' không phải số nguyên / is not a whole number.")
        return None
    number = int(value)
    if not low <= number <= high:
        errors.append(f"{name}: phải từ {low} đến {high} / must be from {low} to {high}.")
        return None
    return number


def _percent(value: str, errors: list[str]) -> float | None:
    match = _PERCENT.match(value)
    if not value:
        errors.append("target_percent: Bắt buộc / Required.")
    elif match is None:
        errors.append(f"target_percent: '{value}' không phải số / is not a number.")
    else:
        number = Decimal(match.group(1).replace(",", "."))
        if 0 <= number <= 100:
            return float(number)
        errors.append(
            f"target_percent: {value} ngoài khoảng 0-100 / is outside 0-100 (a percentage)."
        )
    return None


def _target_row(row: dict[str, str], wards: set[str]) -> tuple[TargetValues | None, list[str]]:
    """A row as PopulationTarget values, or the messages saying what is wrong with it."""
    errors: list[str] = []
    ward, group = row["ward"], row["target_group"]
    if not ward:
        errors.append("ward: Bắt buộc / Required.")
    elif ward not in wards:
        errors.append(f"ward: Không có phường '{ward}' / Unknown ward '{ward}'.")
    if group not in TARGET_GROUPS:
        errors.append(
            f"target_group: Không rõ nhóm '{group}' / Unknown target group '{group}' "
            f"({', '.join(TARGET_GROUPS)})."
        )
    year = _whole(row["year"], "year", errors, low=MIN_YEAR, high=MAX_YEAR)
    baseline = _whole(row["baseline"], "baseline", errors, low=0, high=MAX_COUNT)
    percent = _percent(row["target_percent"], errors)
    before = (
        _whole(row.get("reached_before", ""), "reached_before", errors, low=0, high=MAX_COUNT)
        if row.get("reached_before")
        else 0
    )
    if baseline is not None and before is not None and before > baseline:
        errors.append(
            "reached_before: không thể lớn hơn baseline / cannot be more than the baseline."
        )
    if errors:
        return None, errors
    # Each None above came with an error message.
    assert year is not None and baseline is not None and percent is not None and before is not None
    return {
        "ward": ward,
        "target_group": group,
        "year": year,
        "baseline": baseline,
        "target_percent": percent,
        "reached_before": before,
    }, []


OUT_OF_SCOPE = (
    "ward: '{ward}' ngoài phạm vi đơn vị bạn phụ trách / "
    "'{ward}' is outside the units you organize."
)


def import_targets(
    text: str,
    *,
    valid_rows_only: bool = False,
    progress: Callable[[float], None] | None = None,
    in_scope: Callable[[str], bool] | None = None,
) -> ImportReport:
    """Create or update the file's population targets, keyed by (ward, target_group,
    year). A file with any bad row changes nothing unless `valid_rows_only`; every bad
    row is reported either way. Flushes; the caller commits. `progress(fraction)` hears
    when the rows are read (a targets file is small: one row per ward and group).
    `in_scope(ward)`: the uploader's units; a row of another unit is a bad row."""
    report = ImportReport()
    wards = set(db.session.scalars(sa.select(Ward.code)))
    valid: list[TargetValues] = []
    seen: dict[tuple[str, str, int], int] = {}
    for line, row in read_rows(text, report, columns=TARGET_COLUMNS, required=TARGET_REQUIRED):
        values, errors = _target_row(row, wards)
        if values is not None and in_scope is not None and not in_scope(values["ward"]):
            errors = [OUT_OF_SCOPE.format(ward=values["ward"])]
            values = None
        if values is not None:
            key = (values["ward"], values["target_group"], values["year"])
            if key in seen:
                errors = [
                    f"Trùng phường, nhóm và năm với dòng {seen[key]} / "
                    f"Same ward, target group and year as line {seen[key]}."
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
        (t.ward, t.target_group, t.year): t
        for t in db.session.scalars(
            sa.select(PopulationTarget).where(PopulationTarget.year.in_(years))
        )
    }
    for values in valid:
        target = existing.get((values["ward"], values["target_group"], values["year"]))
        if target is None:
            db.session.add(PopulationTarget(**values))
            report.created += 1
        else:
            for name in ("baseline", "target_percent", "reached_before"):
                setattr(target, name, values[name])
            report.updated += 1
    db.session.flush()
    return report
