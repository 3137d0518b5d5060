"""The progress report kept per level: the rows of the national report at ward, province
and national level, written by the same job that refreshes the counts (`refresh`), so
that a page of a report is a page of stored rows and its totals a SUM in SQL, whatever
the size of the country (`progress_page`), instead of rows assembled in Python from
every unit at each request.

The rows are `operations`' own (one definition of the figures: they are computed by
`operations.level_rows` from the fresh counts) and are used only while nothing they
read changed since: the same change number as the counts (targets, erased counts and
the map are watched too). Otherwise, and for what they do not hold (a unit filter, a
caller with a scope, a year not stored), the report is computed as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.extensions import db
from coordinator.people.scopes import NATIONAL, Scope
from coordinator.progress import counts, operations
from coordinator.progress.models import PopulationTarget
from coordinator.progress.operations import Figures, FormerUnit, ProgressReport, ProgressRow
from coordinator.progress.selection import LEVELS, select

YEARS_BACK, YEARS_AHEAD = 3, 1  # the plan years kept around this one (with targets)


class ProgressLevelRow(db.Model):
    """One row of the national report of `year` at `level`, in the report's order."""

    __tablename__ = "progress_level_rows"

    year: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(64))
    target_group: Mapped[str] = mapped_column(sa.String(32))
    # The figures the totals sum (Figures.add in SQL: NULLs stay out of a SUM).
    enrolled: Mapped[int]
    reached: Mapped[int]
    reached_of_baseline: Mapped[int]
    baseline: Mapped[int | None]
    target: Mapped[int | None]
    remaining: Mapped[int | None]
    row: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # the whole ProgressRow


_SUMMED = ("enrolled", "reached", "reached_of_baseline", "baseline", "target", "remaining")


def _years() -> list[int]:
    """This plan year, and the years around it that have targets."""
    this = operations.current_year()
    with_targets = db.session.scalars(
        sa.select(PopulationTarget.year)
        .where(PopulationTarget.year.between(this - YEARS_BACK, this + YEARS_AHEAD))
        .distinct()
    )
    return sorted({this, *with_targets})


def refresh() -> int:
    """Refresh the counts, then the stored rows of every level from them; the number of
    rows written (the caller commits; idempotent)."""
    written = counts.refresh()
    seen = db.session.scalar(
        sa.select(counts.ProgressCountsState.refreshed_changes).where(
            counts.ProgressCountsState.id == 1
        )
    )
    db.session.execute(sa.delete(ProgressLevelRow))
    chosen = select("national")
    stored = []
    years = _years()
    for year in years:
        for level, rows in operations.level_rows(year, chosen, None, maintained=True).items():
            stored += [
                {
                    "year": year,
                    "level": level,
                    "position": position,
                    "unit": row.unit,
                    "target_group": row.target_group,
                    **{name: getattr(row, name) for name in _SUMMED},
                    "row": asdict(row),
                }
                for position, row in enumerate(rows)
            ]
    if stored:
        db.session.execute(sa.insert(ProgressLevelRow), stored)
    db.session.execute(
        sa.update(counts.ProgressCountsState)
        .where(counts.ProgressCountsState.id == 1)
        .values(levels_changes=seen, levels_first_year=years[0], levels_last_year=years[-1])
    )
    return written + len(stored)


def _usable(year: int) -> tuple[Any, ...] | None:
    """What names the stored rows' version when they hold `year`'s report (the refresh's
    moment and change number: every rewrite of the rows is a refresh, which sets both),
    else None."""
    state = db.session.execute(sa.select(counts.ProgressCountsState)).scalar_one_or_none()
    usable = (
        state is not None
        and state.changes == state.refreshed_changes == state.levels_changes
        and state.levels_first_year is not None
        and state.levels_last_year is not None
        and state.levels_first_year <= year <= state.levels_last_year
    )
    if not usable:
        return None
    return (state.refreshed_at, state.levels_changes)


# A worker's last pages read from the stored rows (per app), by their version and the
# page's arguments: a page asked again while the rows are the same (every organizer's
# first page between two refreshes) costs the state's read, not four statements and the
# decoding of a thousand rows. The reports are shared: their readers do not change them.
PAGE_CACHE_SIZE = 32
_pages_lock = threading.Lock()


def _pages() -> OrderedDict[tuple[Any, ...], tuple[ProgressReport, int]]:
    return current_app.extensions.setdefault("progress_level_pages", OrderedDict())


def _figures(row: Any) -> Figures:
    def number(value: Any) -> int | None:
        return None if value is None else int(value)

    return Figures(
        baseline=number(row.baseline),
        target=number(row.target),
        enrolled=int(row.enrolled or 0),
        reached=int(row.reached or 0),
        remaining=number(row.remaining),
        reached_of_baseline=int(row.reached_of_baseline or 0),
    )


def _row(data: dict[str, Any]) -> ProgressRow:
    return ProgressRow(**{**data, "includes": [FormerUnit(**f) for f in data["includes"]]})


def stored_page(
    year: int, level: str, target_group: str | None, limit: int, offset: int
) -> tuple[ProgressReport, int] | None:
    """A page of the national report from the stored rows, and the number of rows of
    the whole report; None when they are not usable. Four statements at any size; one
    for a page this process read since the last refresh."""
    version = _usable(year)
    if version is None:
        return None
    key = (*version, year, level, target_group, limit, offset)
    pages = _pages()
    with _pages_lock:
        found = pages.get(key)
        if found is not None:
            pages.move_to_end(key)
            return found
    found = _read_page(year, level, target_group, limit, offset)
    with _pages_lock:
        pages[key] = found
        while len(pages) > PAGE_CACHE_SIZE:
            pages.popitem(last=False)
    return found


def _read_page(
    year: int, level: str, target_group: str | None, limit: int, offset: int
) -> tuple[ProgressReport, int]:
    where = [ProgressLevelRow.year == year, ProgressLevelRow.level == level]
    if target_group:
        where.append(ProgressLevelRow.target_group == target_group)
    sums = [sa.func.sum(getattr(ProgressLevelRow, name)).label(name) for name in _SUMMED]
    rows = [
        _row(data)
        for data in db.session.scalars(
            sa.select(ProgressLevelRow.row)
            .where(*where)
            .order_by(ProgressLevelRow.position)
            .limit(limit)
            .offset(offset)
        )
    ]
    by_group, total = {}, 0
    for found in db.session.execute(
        sa.select(ProgressLevelRow.target_group, sa.func.count().label("listed"), *sums)
        .where(*where)
        .group_by(ProgressLevelRow.target_group)
    ):
        by_group[found.target_group] = _figures(found)
        total += found.listed
    by_group = dict(
        sorted(by_group.items(), key=lambda item: operations.GROUP_ORDER.get(item[0], 99))
    )
    overall = Figures()
    for figures in by_group.values():
        overall.add(figures)
    shown = list(dict.fromkeys(row.unit for row in rows))
    by_unit: dict[str, Figures] = {}
    if shown:
        found_units = {
            found.unit: _figures(found)
            for found in db.session.execute(
                sa.select(ProgressLevelRow.unit, *sums)
                .where(*where, ProgressLevelRow.unit.in_(shown))
                .group_by(ProgressLevelRow.unit)
            )
        }
        by_unit = {unit: found_units[unit] for unit in shown}
    report = ProgressReport(
        year=year, rows=rows, level=level, by_unit=by_unit, by_group=by_group, overall=overall
    )
    return report, total


def progress_page(
    year: int | None = None,
    *,
    ward: str | None = None,
    unit: str | None = None,
    level: str = "ward",
    target_group: str | None = None,
    scope: Scope = NATIONAL,
    limit: int,
    offset: int,
) -> tuple[ProgressReport, int]:
    """`limit` rows of the report `operations.progress` gives from `offset` (as
    `operations.report_page`), and the number of its rows: from the stored rows when
    they hold it, else computed."""
    year = year or operations.current_year()
    if scope.national and not unit and not ward and level in LEVELS:
        found = stored_page(year, level, target_group, limit, offset)
        if found is not None:
            return found
    report = operations.progress(
        year, ward=ward, unit=unit, level=level, target_group=target_group, scope=scope
    )
    return operations.report_page(report, limit, offset), len(report.rows)
