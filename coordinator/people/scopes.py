"""Where an organizer may act: the one place that answers it.

An organizer with no scope rows, and every admin, is national. Otherwise the scope is
the union of their provinces (every unit of the province, past units included) and their
wards (each with the former units whose history rolls up into it). Queries that list or
load scoped things filter with `Scope.where(column)`; changes call `Scope.require(code)`.

In a request the scope is the caller's (`current_scope()`, read once per request):
operations load organizers' objects through `scoped(query, column)` and
`visible_or_404(code)`, and check every change with `require_in_scope(code)`. Outside a
request (jobs, the CLI) the system acts nationally; a job that must stay within units
carries them (a matching run's `units`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import lazy_gettext as _l

from coordinator.errors import Forbidden, Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.geography.operations import find_ward, roll_up_map
from coordinator.people.models import OrganizerScope, User, Volunteer


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
            raise OutOfScope(_l("Outside the units you organize."))

    def covers_all(self, ward_codes: list[str] | None) -> bool:
        """True when every unit is within the scope (None: every unit of the country)."""
        if self.national:
            return True
        return ward_codes is not None and set(ward_codes) <= self.ward_codes

    @property
    def units(self) -> list[str] | None:
        """The units as a job records them: None for the whole country."""
        return None if self.national else sorted(self.ward_codes)


class OutOfScope(Forbidden):
    """A change to something outside the caller's units (pages answer it with a 403 too,
    rather than a message on the form)."""


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


def current_scope() -> Scope:
    """The caller's scope, read once per request; national outside a request (a job or
    the CLI acts for the system)."""
    if not has_request_context():
        return NATIONAL
    cached = request.environ.get("coordinator.scope")
    if cached is None:
        from coordinator.people.auth import authenticated_user  # auth builds on models only

        cached = request.environ["coordinator.scope"] = scope_of(authenticated_user())
    assert isinstance(cached, Scope)
    return cached


def forget_current_scope() -> None:
    """Read the caller's scope again (after their units changed in this request)."""
    if has_request_context():
        request.environ.pop("coordinator.scope", None)


def organizing() -> Scope | None:
    """The caller's scope when they act as an organizer (jobs and the CLI: national);
    None for volunteers, participants and strangers."""
    scope = current_scope()
    return None if scope == NOBODY else scope


def scoped(query: sa.Select[Any], column: Any) -> sa.Select[Any]:
    """`query` kept to the rows whose unit `column` is within the caller's scope."""
    return query.where(current_scope().where(column))


def require_in_scope(ward_code: str | None) -> None:
    """Refuse (403) the caller's change to something in a unit outside their scope."""
    current_scope().require(ward_code)


def visible_or_404(ward_code: str | None, message: str) -> None:
    """A load of something outside the caller's scope answers like a missing id."""
    if not current_scope().covers(ward_code):
        raise NotFound(message)


# A volunteer's contact, availability and preferences: shown to the volunteer and to the
# organizers of the units where they live or serve. Anyone may propose them for a session.
VOLUNTEER_PRIVATE_FIELDS = ("email", "phone", "availability", "preferences", "user_id")


def organized_volunteer_ids(volunteer_ids: Iterable[int]) -> set[int]:
    """Of these volunteers, those whose private fields the caller may read: living in,
    or booked into a session of, one of the caller's units."""
    from coordinator.bookings.models import LIVE_ASSIGNMENT, Assignment  # bookings build on people
    from coordinator.sessions.models import TrainingSession

    ids = sorted(set(volunteer_ids))
    scope = current_scope()
    if scope.national or not ids:
        return set(ids) if scope.national else set()
    home = sa.select(Volunteer.id).where(Volunteer.id.in_(ids), scope.where(Volunteer.home_ward))
    serving = (
        sa.select(Assignment.volunteer_id)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id.in_(ids),
            Assignment.status.in_(LIVE_ASSIGNMENT),
            scope.where(TrainingSession.ward),
        )
    )
    return set(db.session.scalars(home.union(serving)))


def organized_volunteers_where() -> sa.ColumnElement[bool]:
    """`organized_volunteer_ids` as a WHERE clause on Volunteer, for a query that
    filters on private fields in SQL (the email search)."""
    from coordinator.bookings.models import LIVE_ASSIGNMENT, Assignment  # bookings build on people
    from coordinator.sessions.models import TrainingSession

    scope = current_scope()
    if scope.national:
        return sa.true()
    serving = (
        sa.select(Assignment.id)
        .join(TrainingSession, Assignment.session_id == TrainingSession.id)
        .where(
            Assignment.volunteer_id == Volunteer.id,
            Assignment.status.in_(LIVE_ASSIGNMENT),
            scope.where(TrainingSession.ward),
        )
        .exists()
    )
    return sa.or_(scope.where(Volunteer.home_ward), serving)


def require_organizes_volunteer(volunteer: Volunteer) -> None:
    """Refuse (403) an organizer's change to a volunteer of other units."""
    if volunteer.id not in organized_volunteer_ids([volunteer.id]):
        raise OutOfScope(_l("This volunteer lives and serves outside the units you organize."))


def scopes_view(user: User) -> dict[str, Any]:
    """A user's units as the admin API and page show them."""
    units = []
    for row in sorted(user.scopes, key=lambda r: (r.ward_code is not None, r.unit_code)):
        if row.province_code is not None:
            province = db.session.get(Province, row.province_code)
            name = province.name if province else row.province_code
            units.append({"code": row.province_code, "kind": "province", "name": name})
        else:
            ward = db.session.get(Ward, row.ward_code)
            name = ward.name if ward else row.unit_code
            units.append({"code": row.unit_code, "kind": "ward", "name": name})
    return {"user_id": user.id, "national": scope_of(user).national, "units": units}


def _scope_row(code: str) -> OrganizerScope:
    """A scope row for a province code ("01", "ha_noi") or a unit code."""
    province = db.session.get(Province, code) or db.session.scalar(
        sa.select(Province).where(Province.slug == code)
    )
    if province is not None:
        return OrganizerScope(province_code=province.code)
    ward = find_ward(code, or_slug=True)
    if ward is None:
        raise Invalid.field("units", _l("No province or ward '%(code)s'.", code=code))
    return OrganizerScope(ward_code=ward.code)


def set_scopes(user: User, codes: list[str], granted_by: User | None = None) -> list[str]:
    """Replace an organizer's units (an empty list: national); the codes kept."""
    if codes and user.role != "organizer":
        raise Invalid.field("units", _l("Only organizers have units."))
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
