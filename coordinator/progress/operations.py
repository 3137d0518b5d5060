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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from coordinator.bookings.models import Registration
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.people.models import Participant
from coordinator.progress.models import Assessment, ErasedParticipantCount, PopulationTarget
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession
from coordinator.vocabularies.terms import TARGET_GROUPS

MIN_YEAR, MAX_YEAR = 2000, 2100


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


# -- importing targets ------------------------------------------------------------------


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


@dataclass
class ProgressRow(Figures):
    ward: str = ""
    ward_name: str = ""
    target_group: str = ""
    target_percent: float | None = None
    reached_before: int = 0


@dataclass
class ProgressReport:
    year: int
    rows: list[ProgressRow]
    by_ward: dict[str, Figures] = field(default_factory=dict)
    by_group: dict[str, Figures] = field(default_factory=dict)
    overall: Figures = field(default_factory=Figures)


_Select = TypeVar("_Select", bound=sa.Select[Any])
_ByWardAndGroup = type[Participant] | type[PopulationTarget] | type[ErasedParticipantCount]


def _filtered(
    query: _Select, model: _ByWardAndGroup, ward: str | None, target_group: str | None
) -> _Select:
    if ward:
        query = query.where(model.ward == ward)
    if target_group:
        query = query.where(model.target_group == target_group)
    return query


def _counts(query: sa.Select[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    return {(w, g): n for w, g, n in db.session.execute(query)}


def _enrolled(
    year_end: datetime, ward: str | None, group: str | None
) -> dict[tuple[str, str], int]:
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
            Registration.status == "registered",
            TrainingSession.status != "cancelled",
            TrainingSession.starts_at < year_end,
        )
        .group_by(Participant.ward, Participant.target_group)
    )
    return _counts(_filtered(query, Participant, ward, group))


def _reached(year_end: datetime, ward: str | None, group: str | None) -> dict[tuple[str, str], int]:
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
        )
        .group_by(Participant.ward, Participant.target_group)
    )
    return _counts(_filtered(query, Participant, ward, group))


def progress(
    year: int | None = None, *, ward: str | None = None, target_group: str | None = None
) -> ProgressReport:
    """The figures of every ward and group that has a target for `year` (default: this
    year), participants, or erased participants' counts; with totals per ward, per group
    and overall. Pairs without a target have no baseline, target or remaining."""
    year = year or current_year()
    year_end = year_start(year + 1)
    targets = {
        (t.ward, t.target_group): t
        for t in db.session.scalars(
            _filtered(
                sa.select(PopulationTarget).where(PopulationTarget.year == year),
                PopulationTarget,
                ward,
                target_group,
            )
        )
    }
    enrolled = _enrolled(year_end, ward, group=target_group)
    reached = _reached(year_end, ward, group=target_group)
    erased = {
        (e.ward, e.target_group): e
        for e in db.session.scalars(
            _filtered(sa.select(ErasedParticipantCount), ErasedParticipantCount, ward, target_group)
        )
    }
    with_participants = set(
        db.session.execute(
            _filtered(
                sa.select(Participant.ward, Participant.target_group)
                .where(Participant.erased_at.is_(None))
                .distinct(),
                Participant,
                ward,
                target_group,
            )
        ).tuples()
    )
    keys = (
        set(targets)
        | with_participants
        | {key for key, e in erased.items() if e.enrolled or e.reached}
    )
    names = dict(db.session.execute(sa.select(Ward.code, Ward.name)).tuples().all())
    group_order = {g: i for i, g in enumerate(TARGET_GROUPS)}
    report = ProgressReport(year=year, rows=[])
    for key in sorted(keys, key=lambda k: (k[0], group_order.get(k[1], 99))):
        target, gone = targets.get(key), erased.get(key)
        row = ProgressRow(
            ward=key[0],
            ward_name=names.get(key[0], key[0]),
            target_group=key[1],
            enrolled=enrolled.get(key, 0) + (gone.enrolled if gone else 0),
            reached=reached.get(key, 0) + (gone.reached if gone else 0),
        )
        if target is not None:
            row.reached += target.reached_before
            row.reached_before = target.reached_before
            row.baseline = target.baseline
            row.target_percent = target.target_percent
            row.target = target_of(target.baseline, target.target_percent)
            row.remaining = max(row.target - row.reached, 0)
            row.reached_of_baseline = row.reached
        report.rows.append(row)
        report.by_ward.setdefault(row.ward, Figures()).add(row)
        report.by_group.setdefault(row.target_group, Figures()).add(row)
        report.overall.add(row)
    report.by_group = dict(
        sorted(report.by_group.items(), key=lambda item: group_order.get(item[0], 99))
    )
    return report


def gap_shares(year: int | None = None) -> dict[tuple[str, str], float]:
    """remaining / target (0 = reached, 1 = nothing yet) of every (ward, group) with a
    target for `year`; matching gives priority to the larger gaps. A target of 0 has no gap."""
    return {
        (row.ward, row.target_group): _gap_share(row)
        for row in progress(year).rows
        if row.target is not None
    }


def _gap_share(row: ProgressRow) -> float:
    assert row.remaining is not None  # progress() sets it together with target
    return row.remaining / row.target if row.target else 0.0
