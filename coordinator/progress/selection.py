"""Which units a progress report covers: the level (ward, province, national), the unit
asked for, and the caller's scope, turned into the raw unit codes whose figures count and
the unit each of them rolls up into. Plain functions over the database: no HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from coordinator.errors import Forbidden, Invalid
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.geography.operations import find_ward, roll_up_map
from coordinator.people.scopes import NATIONAL, Scope

LEVELS = ("ward", "province", "national")
NATIONAL_CODE = "VN"
NATIONAL_NAME = "Việt Nam"
NO_PROVINCE = ""  # units from before provinces were recorded
_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
OUTSIDE = _l("Outside the units you organize.")


@dataclass(frozen=True)
class UnitMap:
    """Names, provinces and the roll-up of every unit, read once per report."""

    names: dict[str, str]
    province_of: dict[str, str | None]
    province_names: dict[str, str]
    roll: dict[str, str]  # every ended unit -> the current unit its figures count toward

    @classmethod
    def load(cls) -> UnitMap:
        wards = db.session.execute(sa.select(Ward.code, Ward.name, Ward.province_code)).all()
        provinces = db.session.execute(sa.select(Province.code, Province.name)).tuples()
        return cls(
            names={code: name for code, name, _ in wards},
            province_of={code: province for code, _, province in wards},
            province_names=dict(provinces.all()),
            roll=roll_up_map(),
        )

    def current(self, code: str) -> str:
        return self.roll.get(code, code)

    def province(self, code: str) -> str:
        """The province of the unit a code's figures count toward."""
        return self.province_of.get(self.current(code)) or NO_PROVINCE

    def former(self, code: str) -> list[str]:
        """The ended units whose figures roll up into this current unit."""
        return sorted(old for old, new in self.roll.items() if new == code)


@dataclass(frozen=True)
class Selection:
    """The raw unit codes a report reads (None: every unit) and the unit each rolls
    up into at ward level."""

    level: str
    codes: frozenset[str] | None
    home: Callable[[str], str]
    provinces: frozenset[str] | None  # provinces shown (None: all), for their own targets
    units: UnitMap

    def sql_filter(self, column: Any) -> sa.ColumnElement[bool]:
        """A WHERE clause keeping rows whose unit `column` is read."""
        if self.codes is None:
            return sa.true()
        return column.in_(sorted(self.codes)) if self.codes else sa.false()


def _province_code(code: str) -> str | None:
    """A province's code from its code ("01") or slug ("ha_noi"), or None."""
    if not _CODE.match(code):  # never sent to the database (PostgreSQL refuses NUL)
        return None
    province = db.session.get(Province, code) or db.session.scalar(
        sa.select(Province).where(Province.slug == code)
    )
    return province.code if province is not None else None


def select(
    level: str = "ward",
    *,
    unit: str | None = None,
    ward: str | None = None,
    scope: Scope = NATIONAL,
) -> Selection:
    """What a report at `level` covers for a caller with `scope`, narrowed to `unit` (a
    ward code: that ward with its history; a province code or slug: its units) or the
    older `ward` filter. An unknown unit is a 422, one outside the scope a 403."""
    if level not in LEVELS:
        raise Invalid.field("level", _l("Must be one of: %(choices)s.", choices=", ".join(LEVELS)))
    units = UnitMap.load()
    field = "unit" if unit else "ward"
    code = unit or ward
    if unit and ward and unit != ward:
        raise Invalid.field("unit", _l("unit and ward differ."))
    allowed: set[str] | None = None if scope.national else set(scope.ward_codes)
    provinces: frozenset[str] | None = None if scope.national else scope.province_codes
    home: Callable[[str], str] = units.current
    if level == "national":
        if code:
            raise Invalid.field(field, _l("No unit at level=national."))
        if not scope.national:
            raise Forbidden(OUTSIDE)
    elif code:
        found = find_ward(code)
        province = None if found is not None or ward else _province_code(code)
        if found is None and province is None:
            if ward:
                raise Invalid.field(field, _l("Unknown ward '%(code)s'.", code=code))
            raise Invalid.field(field, _l("No province or ward '%(code)s'.", code=code))
        if found is not None:
            if level != "ward":
                raise Invalid.field(field, _l("level=province takes a province code."))
            scope.require(found.code)
            chosen = found.code
            history = {chosen} | (set() if chosen in units.roll else set(units.former(chosen)))
            allowed = history if allowed is None else history & allowed

            def home(_code: str) -> str:
                return chosen  # every code read is the unit's or its history's
        else:
            assert province is not None
            if not scope.national and province not in scope.province_codes:
                raise Forbidden(OUTSIDE)
            in_province = {c for c in units.names if units.province(c) == province}
            allowed = in_province if allowed is None else in_province & allowed
            provinces = frozenset({province})
    elif level == "province" and provinces is not None:
        if not provinces:
            raise Forbidden(OUTSIDE)
        assert allowed is not None
        allowed = {c for c in allowed if units.province(c) in provinces}
    return Selection(
        level=level,
        codes=None if allowed is None else frozenset(allowed),
        home=home,
        provinces=provinces,
        units=units,
    )
