"""Where an organizer may act: the one place that answers it.

An organizer with no scope rows, and every admin, is national. Otherwise the scope is
the union of their provinces (every unit of the province, past units included) and their
wards (each with the former units whose history rolls up into it). Queries that list or
load scoped things filter with `Scope.where(column)`; changes call `Scope.require(code)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from coordinator.errors import Forbidden, Invalid
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.geography.operations import find_ward, roll_up_map
from coordinator.people.models import OrganizerScope, User


@dataclass(frozen=True)
class Scope:
    """The units one user may organize; `national` covers every unit."""

    national: bool
    ward_codes: frozenset[str] = frozenset()
    province_codes: frozenset[str] = frozenset()

    def covers(self, ward_code: str | None) -> bool:
        """True when a thing in this unit is within the scope (a thing with no unit, such
        as a matching run over every ward, only for national organizers)."""
        return self.national or (ward_code is not None and ward_code in self.ward_codes)

    def where(self, column: Any) -> sa.ColumnElement[bool]:
        """A WHERE clause keeping rows whose unit `column` is within the scope."""
        if self.national:
            return sa.true()
        return column.in_(sorted(self.ward_codes)) if self.ward_codes else sa.false()

    def require(self, ward_code: str | None) -> None:
        """Refuse (403) a change to something outside the scope."""
        if not self.covers(ward_code):
            raise Forbidden("Ngoài phạm vi đơn vị bạn phụ trách / Outside the units you organize.")


NATIONAL = Scope(national=True)
NOBODY = Scope(national=False)


def scope_of(user: User | None) -> Scope:
    """The user's scope: national for admins and unscoped organizers, nothing for
    anyone who is not an organizer."""
    if user is None or not user.has_role("organizer"):
        return NOBODY
    if user.role == "admin" or not user.scopes:
        return NATIONAL
    provinces = frozenset(s.province_code for s in user.scopes if s.province_code)
    wards = {s.ward_code for s in user.scopes if s.ward_code}
    codes: set[str] = set(wards)
    if provinces:
        codes |= set(
            db.session.scalars(sa.select(Ward.code).where(Ward.province_code.in_(provinces)))
        )
    if wards:
        codes |= {old for old, new in roll_up_map().items() if new in wards}
    return Scope(national=False, ward_codes=frozenset(codes), province_codes=provinces)


def _scope_row(code: str) -> OrganizerScope:
    """A scope row for a province code ("01", "ha_noi") or a unit code."""
    province = db.session.get(Province, code) or db.session.scalar(
        sa.select(Province).where(Province.slug == code)
    )
    if province is not None:
        return OrganizerScope(province_code=province.code)
    ward = find_ward(code, or_slug=True)
    if ward is None:
        raise Invalid.field(
            "units", f"Không có tỉnh hay phường '{code}' / No province or ward '{code}'."
        )
    return OrganizerScope(ward_code=ward.code)


def set_scopes(user: User, codes: list[str], granted_by: User | None = None) -> list[str]:
    """Replace an organizer's units (an empty list: national); the codes kept."""
    if codes and user.role != "organizer":
        raise Invalid.field("units", "Chỉ người tổ chức có phạm vi / Only organizers have units.")
    rows = {}
    for code in codes:
        row = _scope_row(code)
        rows[row.unit_code] = row
    kept = {s.unit_code: s for s in user.scopes if s.unit_code in rows}
    user.scopes = [
        kept.get(code)
        or OrganizerScope(
            province_code=row.province_code,
            ward_code=row.ward_code,
            granted_by=granted_by.id if granted_by else None,
        )
        for code, row in rows.items()
    ]
    db.session.flush()
    outbox.record(
        "user.scopes_changed",
        "user",
        user.id,
        {"user_id": user.id, "units": sorted(rows), "by": granted_by.id if granted_by else None},
    )
    return sorted(rows)
