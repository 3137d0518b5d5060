"""Progress towards the movement's targets per ward and target group (the targets come
from `targets.py`). Plain functions over the database: no HTTP, no commit.

Definitions (README "Progress"), for plan year Y:
- target = ceil(baseline × target_percent / 100), from the PopulationTarget of Y;
- enrolled = distinct participants (not erased) of the ward and group with a
  'registered' registration in a session that is not cancelled and starts before the
  end of Y, plus the erased participants' anonymous `enrolled` count;
- reached = distinct participants (not erased) of the ward and group with an assessment
  that says `reached_basic`, assessed before the end of Y, plus the erased participants'
  `reached` count, plus the target's `reached_before`;
- remaining = target - reached, never below 0. "End of Y" is midnight of 1 January Y+1
  in the display time zone (Asia/Ho_Chi_Minh).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app

from coordinator.bookings.models import Registration, RegistrationStatus
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import roll_up_map
from coordinator.people.models import Participant
from coordinator.people.scopes import NATIONAL, Scope
from coordinator.progress import counts
from coordinator.progress.models import Assessment, ErasedParticipantCount, PopulationTarget
from coordinator.progress.selection import (
    NATIONAL_CODE,
    NATIONAL_NAME,
    NO_PROVINCE,
    Selection,
    UnitMap,
    select,
)
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionStatus, TrainingSession
from coordinator.vocabularies.terms import TARGET_GROUPS

MIN_YEAR, MAX_YEAR = 2000, 2100
# The movement's targets: 80 % of public-sector staff, 100 % of students, 80 % of adult
# residents (config PROGRESS_DEFAULT_TARGET_PERCENT overrides them).
MOVEMENT_DEFAULTS = {"civil_servants": 80.0, "students": 100.0, "residents": 80.0}


def current_year() -> int:
    """This year in the display time zone."""
    return utcnow().astimezone(display_timezone()).year


def year_start(year: int) -> datetime:
    """Midnight of 1 January of `year`, local time (an aware datetime)."""
    return datetime(year, 1, 1, tzinfo=display_timezone())


def target_of(baseline: int, target_percent: float) -> int:
    """ceil(baseline × percent / 100), computed on the percent as written (14.3, not the
    binary float 14.300000000000001 that would round 1000 × 14.3% up to 144)."""
    return math.ceil(Decimal(baseline) * Decimal(str(target_percent)) / 100)


def share_percent(part: int, whole: int | None) -> float | None:
    """part / whole in percent with one decimal (half up); None without a whole."""
    if not whole:
        return None
    value = Decimal(part) * 100 / Decimal(whole)
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass
class Figures:
    """reached / enrolled / target of one ward and group, or a total over several."""

    baseline: int | None = None
    target: int | None = None
    enrolled: int = 0
    reached: int = 0
    remaining: int | None = None
    # reached among the pairs that have a baseline: the numerator of reached_percent
    reached_of_baseline: int = 0

    @property
    def reached_percent(self) -> float | None:
        return share_percent(self.reached_of_baseline, self.baseline)

    def add(self, other: Figures) -> None:
        """Sum another row in. remaining sums per pair, so a group past its target does
        not hide another group's gap."""
        self.enrolled += other.enrolled
        self.reached += other.reached
        if other.baseline is not None:
            self.baseline = (self.baseline or 0) + other.baseline
            self.reached_of_baseline += other.reached_of_baseline
        if other.target is not None:
            self.target = (self.target or 0) + other.target
            assert other.remaining is not None  # set together with target
            self.remaining = (self.remaining or 0) + other.remaining


@dataclass(frozen=True)
class FormerUnit:
    """A unit that ended, whose figures are counted in a row of a current unit."""

    code: str
    name: str


@dataclass
class ProgressRow(Figures):
    ward: str | None = ""  # level=ward: the unit; None at the other levels
    ward_name: str | None = ""
    target_group: str = ""
    target_percent: float | None = None
    reached_before: int = 0
    level: str = "ward"
    unit: str = ""
    unit_name: str = ""
    province: str | None = None
    includes: list[FormerUnit] = field(default_factory=list)
    # ward: the unit's own target; wards: the sum of its units' (or former units')
    # targets; province: the province's own; provinces: the sum of the provinces'
    target_source: str | None = None
    default_percent: bool = False  # a target without a percent used the movement's default


@dataclass
class ProgressReport:
    year: int
    rows: list[ProgressRow]
    level: str = "ward"
    by_unit: dict[str, Figures] = field(default_factory=dict)
    by_group: dict[str, Figures] = field(default_factory=dict)
    overall: Figures = field(default_factory=Figures)

    @property
    def by_ward(self) -> dict[str, Figures]:
        """The totals per unit at level=ward (the name the API has always used)."""
        return self.by_unit if self.level == "ward" else {}


_Select = TypeVar("_Select", bound=sa.Select[Any])
_Key = tuple[str, str]  # (unit code, target group)


def default_percents() -> dict[str, float]:
    """The movement's target percent per group (config PROGRESS_DEFAULT_TARGET_PERCENT)."""
    configured = current_app.config.get("PROGRESS_DEFAULT_TARGET_PERCENT")
    return dict(MOVEMENT_DEFAULTS if configured is None else configured)


def _counts(query: sa.Select[tuple[str, str, int]]) -> dict[_Key, int]:
    return {(w, g): n for w, g, n in db.session.execute(query)}


def _by_group(query: _Select, column: Any, target_group: str | None) -> _Select:
    return query.where(column == target_group) if target_group else query


def _enrolled(year_end: datetime, chosen: Selection, group: str | None) -> dict[_Key, int]:
    query = (
        sa.select(
            Participant.ward,
            Participant.target_group,
            sa.func.count(sa.distinct(Participant.id)),
        )
        .join(Registration, Registration.participant_id == Participant.id)
        .join(TrainingSession, TrainingSession.id == Registration.session_id)
        .where(
            Participant.erased_at.is_(None),
            Registration.status == RegistrationStatus.REGISTERED,
            TrainingSession.status != SessionStatus.CANCELLED,
            TrainingSession.starts_at < year_end,
            chosen.sql_filter(Participant.ward),
        )
        .group_by(Participant.ward, Participant.target_group)
    )
    return _counts(_by_group(query, Participant.target_group, group))


def _reached(year_end: datetime, chosen: Selection, group: str | None) -> dict[_Key, int]:
    query = (
        sa.select(
            Participant.ward,
            Participant.target_group,
            sa.func.count(sa.distinct(Participant.id)),
        )
        .join(Assessment, Assessment.participant_id == Participant.id)
        .where(
            Participant.erased_at.is_(None),
            Assessment.reached_basic.is_(True),
            Assessment.assessed_at < year_end,
            chosen.sql_filter(Participant.ward),
        )
        .group_by(Participant.ward, Participant.target_group)
    )
    return _counts(_by_group(query, Participant.target_group, group))


@dataclass(frozen=True)
class _Target:
    """A target as it counts: one row's, or the sum of several."""

    baseline: int
    target: int
    reached_before: int
    percent: float | None  # None when the summed rows' percents differ
    default_percent: bool


@dataclass
class _Cell:
    """One unit and group before its target is chosen."""

    enrolled: int = 0
    reached: int = 0  # people, without reached_before
    own: list[_Target] = field(default_factory=list)
    parts: list[_Target] = field(default_factory=list)
    includes: set[str] = field(default_factory=set)


# A target's columns, read as plain rows (thousands of units: no ORM objects needed).
_TARGET_COLUMNS = (
    PopulationTarget.ward,
    PopulationTarget.province_code,
    PopulationTarget.target_group,
    PopulationTarget.baseline,
    PopulationTarget.target_percent,
    PopulationTarget.reached_before,
)


def _target_of_row(row: Any, defaults: dict[str, float]) -> _Target | None:
    percent = row.target_percent
    if percent is None:
        percent = defaults.get(row.target_group)
        if percent is None:  # no percent and no default for the group: no target
            return None
    return _Target(
        baseline=row.baseline,
        target=target_of(row.baseline, percent),
        reached_before=row.reached_before,
        percent=percent,
        default_percent=row.target_percent is None,
    )


def _sum_targets(targets: list[_Target]) -> _Target:
    if len(targets) == 1:  # the usual case: one unit's own target
        return targets[0]
    percents = {t.percent for t in targets}
    return _Target(
        baseline=sum(t.baseline for t in targets),
        target=sum(t.target for t in targets),
        reached_before=sum(t.reached_before for t in targets),
        percent=percents.pop() if len(percents) == 1 else None,
        default_percent=any(t.default_percent for t in targets),
    )


SOURCES = {  # level -> (own target, sum of the parts')
    "ward": ("ward", "wards"),
    "province": ("province", "wards"),
    "national": ("provinces", "provinces"),
}


def _row(level: str, unit: str, name: str, group: str, cell: _Cell, units: UnitMap) -> ProgressRow:
    """A finished row: the unit's own target wins over the sum of its parts'."""
    row = ProgressRow(
        level=level,
        unit=unit,
        unit_name=name,
        ward=unit if level == "ward" else None,
        ward_name=name if level == "ward" else None,
        province={"ward": units.province_of.get(unit), "province": unit}.get(level),
        target_group=group,
        enrolled=cell.enrolled,
        reached=cell.reached,
        includes=[FormerUnit(c, units.names.get(c, c)) for c in sorted(cell.includes)],
    )
    chosen = cell.own or cell.parts
    if chosen:
        target = _sum_targets(chosen)
        row.target_source = SOURCES[level][0 if cell.own else 1]
        row.reached_before = target.reached_before
        row.reached += target.reached_before
        row.baseline = target.baseline
        row.target_percent = target.percent
        row.default_percent = target.default_percent
        row.target = target.target
        row.remaining = max(row.target - row.reached, 0)
        row.reached_of_baseline = row.reached
    return row


def _as_target(row: ProgressRow) -> _Target | None:
    if row.target is None or row.baseline is None:
        return None
    return _Target(
        row.baseline, row.target, row.reached_before, row.target_percent, row.default_percent
    )


def _ward_cells(
    year: int, chosen: Selection, target_group: str | None, maintained: bool = False
) -> dict[_Key, _Cell]:
    """Every current unit and group with a target, participants or erased counts, the
    figures and targets of ended units added into the unit they roll up into. People
    are counted from the raw rows, or (`maintained`) read from the progress counts."""
    year_end = year_start(year + 1)
    defaults = default_percents()
    cells: dict[_Key, _Cell] = {}

    def cell(code: str, group: str) -> _Cell:
        home = chosen.home(code)
        found = cells.setdefault((home, group), _Cell())
        if home != code:
            found.includes.add(code)
        return found

    if maintained:
        enrolled, reached = counts.counted(
            year, chosen.sql_filter(counts.ProgressCount.ward), target_group
        )
    else:
        enrolled = _enrolled(year_end, chosen, target_group)
        reached = _reached(year_end, chosen, target_group)
    for (code, group), count in enrolled.items():
        cell(code, group).enrolled += count
    for (code, group), count in reached.items():
        cell(code, group).reached += count
    erased = sa.select(ErasedParticipantCount).where(chosen.sql_filter(ErasedParticipantCount.ward))
    for gone in db.session.scalars(
        _by_group(erased, ErasedParticipantCount.target_group, target_group)
    ):
        if gone.enrolled or gone.reached:
            found = cell(gone.ward, gone.target_group)
            found.enrolled += gone.enrolled
            found.reached += gone.reached
    if maintained:
        pairs = list(enrolled)  # counted() names every unit and group with people
    else:
        people = (
            sa.select(Participant.ward, Participant.target_group)
            .where(Participant.erased_at.is_(None), chosen.sql_filter(Participant.ward))
            .distinct()
        )
        rows = db.session.execute(_by_group(people, Participant.target_group, target_group))
        pairs = [(code, group) for code, group in rows]
    for code, group in pairs:
        cell(code, group)
    targets = sa.select(*_TARGET_COLUMNS).where(
        PopulationTarget.year == year,
        PopulationTarget.ward.is_not(None),
        chosen.sql_filter(PopulationTarget.ward),
    )
    for row in db.session.execute(_by_group(targets, PopulationTarget.target_group, target_group)):
        assert row.ward is not None  # the query keeps ward targets only
        target = _target_of_row(row, defaults)
        if target is not None:
            found = cell(row.ward, row.target_group)
            (found.own if chosen.home(row.ward) == row.ward else found.parts).append(target)
    # A current unit's row names every former unit it took over, with figures or not.
    for (home, _group), found in cells.items():
        if home not in chosen.units.roll:
            found.includes |= {
                old
                for old in chosen.units.former(home)
                if chosen.codes is None or old in chosen.codes
            }
    return cells


def _province_targets(
    year: int, chosen: Selection, target_group: str | None
) -> dict[_Key, _Target]:
    query = sa.select(*_TARGET_COLUMNS).where(
        PopulationTarget.year == year, PopulationTarget.province_code.is_not(None)
    )
    if chosen.provinces is not None:
        query = query.where(PopulationTarget.province_code.in_(sorted(chosen.provinces)))
    defaults = default_percents()
    found = {}
    for row in db.session.execute(_by_group(query, PopulationTarget.target_group, target_group)):
        assert row.province_code is not None  # the query keeps province targets only
        target = _target_of_row(row, defaults)
        if target is not None:
            found[row.province_code, row.target_group] = target
    return found


def _roll_up(rows: list[ProgressRow], parent: Callable[[ProgressRow], str]) -> dict[_Key, _Cell]:
    """Rows summed into their parent unit's cells (their targets as the parts)."""
    cells: dict[_Key, _Cell] = {}
    for row in rows:
        cell = cells.setdefault((parent(row), row.target_group), _Cell())
        cell.enrolled += row.enrolled
        cell.reached += row.reached - row.reached_before
        cell.includes |= {former.code for former in row.includes}
        target = _as_target(row)
        if target is not None:
            cell.parts.append(target)
    return cells


def progress(
    year: int | None = None,
    *,
    ward: str | None = None,
    target_group: str | None = None,
    level: str = "ward",
    unit: str | None = None,
    scope: Scope = NATIONAL,
    source: str = "auto",
) -> ProgressReport:
    """The figures of every unit and group at `level` (ward, province or national) that
    has a target for `year` (default: this year), participants, or erased participants'
    counts, within `scope` and narrowed to `unit` (or the older `ward`); with totals per
    unit, per group and overall. Figures of ended units count in the current unit they
    roll up into; a unit's own target wins over the sum of its parts' targets. Pairs
    without a target have no baseline, target or remaining. `source`: "counts" reads
    the maintained counts, "raw" counts the rows, "auto" the counts when fresh."""
    year = year or current_year()
    maintained = source == "counts" or (source == "auto" and counts.fresh())
    chosen = select(level, unit=unit, ward=ward, scope=scope)
    rows = level_rows(year, chosen, target_group, maintained)[level]
    return assemble(year, level, rows)


GROUP_ORDER = {g: i for i, g in enumerate(TARGET_GROUPS)}


def level_rows(
    year: int, chosen: Selection, target_group: str | None, maintained: bool
) -> dict[str, list[ProgressRow]]:
    """The rows of `chosen` at its level and every level below it (ward rows, summed
    into provinces, summed into the country): one pass for all three."""
    level = chosen.level
    units = chosen.units

    def ordered(cells: dict[_Key, _Cell]) -> list[tuple[_Key, _Cell]]:
        return sorted(cells.items(), key=lambda item: (item[0][0], GROUP_ORDER.get(item[0][1], 99)))

    rows = [
        _row("ward", code, units.names.get(code, code), group, cell, units)
        for (code, group), cell in ordered(_ward_cells(year, chosen, target_group, maintained))
    ]
    found = {"ward": rows}
    if level != "ward":
        cells = _roll_up(rows, lambda row: row.province or NO_PROVINCE)
        for key, target in _province_targets(year, chosen, target_group).items():
            cells.setdefault(key, _Cell()).own.append(target)
        found["province"] = rows = [
            _row("province", code, units.province_names.get(code, code), group, cell, units)
            for (code, group), cell in ordered(cells)
        ]
    if level == "national":
        found["national"] = [
            _row("national", NATIONAL_CODE, NATIONAL_NAME, group, cell, units)
            for (_code, group), cell in ordered(_roll_up(rows, lambda _row: NATIONAL_CODE))
        ]
    return found


def assemble(year: int, level: str, rows: list[ProgressRow]) -> ProgressReport:
    """A report of `rows` with their totals per unit, per group and overall."""
    report = ProgressReport(year=year, rows=rows, level=level)
    for row in rows:
        report.by_unit.setdefault(row.unit, Figures()).add(row)
        report.by_group.setdefault(row.target_group, Figures()).add(row)
        report.overall.add(row)
    report.by_group = dict(
        sorted(report.by_group.items(), key=lambda item: GROUP_ORDER.get(item[0], 99))
    )
    return report


def report_page(report: ProgressReport, limit: int, offset: int) -> ProgressReport:
    """`limit` rows of the report from `offset`, with the totals of the units on them;
    the totals per group and overall stay those of every row."""
    rows = report.rows[offset : offset + limit]
    shown = {row.unit for row in rows}
    by_unit = {unit: figures for unit, figures in report.by_unit.items() if unit in shown}
    return replace(report, rows=rows, by_unit=by_unit)


# Past this many wards a matching run's gaps are read from the national report.
NARROW_GAPS_UP_TO = 1000


def gap_shares(
    year: int | None = None, wards: Collection[str] | None = None
) -> dict[tuple[str, str], float]:
    """remaining / target (0 = reached, 1 = nothing yet) of every (ward, group) with a
    target for `year`; matching gives priority to the larger gaps. A target of 0 has no gap.
    A former unit has the gap of the unit it rolls up into. With `wards` (those a run
    needs), the report read is that ward's or their province's, not the country's (a
    second per run at country size); the figures of those wards are the same."""
    shares = {
        (row.unit, row.target_group): _gap_share(row)
        for row in progress(year, unit=_narrowest_unit(wards)).rows
        if row.target is not None
    }
    for old, new in roll_up_map().items():
        for group in TARGET_GROUPS:
            if (new, group) in shares:
                shares[old, group] = shares[new, group]
    return shares


def _narrowest_unit(wards: Collection[str] | None) -> str | None:
    """A ward, or the province holding all of `wards`, or None (the country)."""
    if not wards or len(wards) > NARROW_GAPS_UP_TO:
        return None
    if len(wards) == 1:
        return next(iter(wards))
    provinces = set(
        db.session.scalars(
            sa.select(Ward.province_code).where(Ward.code.in_(sorted(wards))).distinct()
        )
    )
    return provinces.pop() if len(provinces) == 1 and None not in provinces else None


def _gap_share(row: ProgressRow) -> float:
    assert row.remaining is not None  # progress() sets it together with target
    return row.remaining / row.target if row.target else 0.0
