"""Squad rules: a leader who is a member, known volunteers, unique names."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.operations import require_ward
from coordinator.people.models import MAX_ID, User, Volunteer
from coordinator.people.operations import conflict_on_duplicate
from coordinator.people.scopes import organizing, require_in_scope, scope_of
from coordinator.squads.models import Squad, SquadMember


def get_squad(squad_id: int) -> Squad:
    squad = db.session.get(Squad, squad_id) if 0 < squad_id <= MAX_ID else None
    if squad is None:
        raise NotFound(_l("Squad not found."))
    return squad


def _require_volunteers(ids: list[int], field: str) -> None:
    found = set(db.session.scalars(sa.select(Volunteer.id).where(Volunteer.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        unknown = ", ".join(map(str, missing))
        raise Invalid.field(field, _l("Unknown volunteers: %(ids)s.", ids=unknown))


def _name_conflict() -> Conflict:
    message = _l("A squad with this name exists.")
    return Conflict(message, {"name": [message]}, code="duplicate")


def _member_conflict() -> Conflict:
    return Conflict(_l("Already a member of this squad."), code="duplicate")


def _require_free_name(name: str, except_id: int | None = None) -> None:
    query = sa.select(Squad.id).where(Squad.name == name)
    if except_id is not None:
        query = query.where(Squad.id != except_id)
    if db.session.scalar(query) is not None:
        raise _name_conflict()


def create_squad(data: dict[str, Any]) -> Squad:
    """A squad of the organizer's units; the leader is always a member."""
    require_ward(data["home_ward"], "home_ward", current=True)
    require_in_scope(data["home_ward"])
    member_ids = list(dict.fromkeys([data["leader_id"], *data.get("member_ids", [])]))
    _require_volunteers([data["leader_id"]], "leader_id")
    _require_volunteers(member_ids, "member_ids")
    _require_free_name(data["name"])
    squad = Squad(
        name=data["name"],
        leader_id=data["leader_id"],
        home_ward=data["home_ward"],
        focus_groups=data.get("focus_groups", []),
        memberships=[SquadMember(volunteer_id=v) for v in member_ids],
    )
    with conflict_on_duplicate(_name_conflict()):
        db.session.add(squad)
    outbox.record("squad.created", "squad", squad.id, {"squad_id": squad.id})
    return squad


def update_squad(squad: Squad, changes: dict[str, Any]) -> Squad:
    if "home_ward" in changes:
        require_ward(changes["home_ward"], "home_ward", current=True)
        scope = organizing()
        if scope is not None:  # an organizer moves a squad only within their units
            scope.require(changes["home_ward"])
    if "name" in changes:
        _require_free_name(changes["name"], squad.id)
    if "leader_id" in changes:
        _require_volunteers([changes["leader_id"]], "leader_id")
    with conflict_on_duplicate(_name_conflict()):
        if "leader_id" in changes and changes["leader_id"] not in squad.member_ids:
            squad.memberships.append(SquadMember(volunteer_id=changes["leader_id"]))
        for name, value in changes.items():
            setattr(squad, name, value)
        squad.version += 1
    outbox.record(
        "squad.changed", "squad", squad.id, {"squad_id": squad.id, "fields": sorted(changes)}
    )
    return squad


def add_member(squad: Squad, volunteer_id: int) -> Squad:
    _require_volunteers([volunteer_id], "volunteer_id")
    if volunteer_id in squad.member_ids:
        raise _member_conflict()
    with conflict_on_duplicate(_member_conflict()):
        squad.memberships.append(SquadMember(volunteer_id=volunteer_id))
        squad.version += 1
    outbox.record(
        "squad.member_added",
        "squad",
        squad.id,
        {"squad_id": squad.id, "volunteer_id": volunteer_id},
    )
    return squad


def remove_member(squad: Squad, volunteer_id: int) -> Squad:
    membership = next((m for m in squad.memberships if m.volunteer_id == volunteer_id), None)
    if membership is None:
        raise NotFound(_l("Not a member of this squad."))
    if volunteer_id == squad.leader_id:
        raise Conflict(_l("Choose another leader before removing this one."))
    squad.memberships.remove(membership)
    squad.version += 1
    db.session.flush()
    outbox.record(
        "squad.member_removed",
        "squad",
        squad.id,
        {"squad_id": squad.id, "volunteer_id": volunteer_id},
    )
    return squad


def can_manage(user: User | None, squad: Squad) -> bool:
    """Organizers of the squad's home unit and the squad's leader manage membership."""
    if user is None:
        return False
    if user.has_role("organizer") and scope_of(user).covers(squad.home_ward):
        return True
    return user.volunteer is not None and user.volunteer.id == squad.leader_id


def is_member(user: User | None, squad: Squad) -> bool:
    return bool(user and user.volunteer and user.volunteer.id in squad.member_ids)
