"""Squads: /api/v1/squads."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify
from flask_babel import gettext as _

from coordinator.errors import Forbidden
from coordinator.extensions import Blueprint, db
from coordinator.paging import PAGE_HEADERS, PageArgs, count, page_headers
from coordinator.people.auth import (
    authenticated_user,
    require_user,
    roles_required,
    user_required,
)
from coordinator.squads import operations
from coordinator.squads.models import Squad
from coordinator.squads.schemas import (
    MemberSchema,
    SquadCreateSchema,
    SquadPublicSchema,
    SquadSchema,
    SquadUpdateSchema,
)

blp = Blueprint("squads", __name__, url_prefix="/api/v1/squads", description="Squads")
BEARER = [{"bearerAuth": []}]


def _dump(squad: Squad) -> dict[str, Any]:
    """Members and leader are shown to organizers and the squad's own members."""
    user = authenticated_user()
    if operations.can_manage(user, squad) or operations.is_member(user, squad):
        return SquadSchema().dump(squad)
    return SquadPublicSchema().dump(squad)


@blp.post("")
@roles_required("organizer")
@blp.arguments(SquadCreateSchema)
@blp.response(201, SquadSchema)
@blp.doc(security=BEARER)
def create_squad(data: dict[str, Any]) -> Squad:
    """Create a squad (organizers)."""
    squad = operations.create_squad(data)
    db.session.commit()
    return squad


@blp.get("")
@blp.arguments(PageArgs, location="query")
@blp.response(200, SquadPublicSchema(many=True), headers=PAGE_HEADERS)
def list_squads(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """Squads by name (public fields), a page at a time: the total in X-Total-Count, the
    next page in Link."""
    query = sa.select(Squad)
    total = count(query)
    rows = db.session.scalars(
        query.order_by(Squad.name, Squad.id)
        .limit(args["limit"])
        .offset(args["offset"])
        .options(sa.orm.selectinload(Squad.memberships))  # member_count, not a query a row
    ).all()
    body = SquadPublicSchema(many=True).dump(rows)
    return jsonify(body), 200, page_headers(total, args["limit"], args["offset"])


@blp.get("/<int:squad_id>")
@blp.response(200, SquadSchema)
def get_squad(squad_id: int) -> Response:
    """One squad; members listed for organizers and members."""
    return jsonify(_dump(operations.get_squad(squad_id)))


@blp.patch("/<int:squad_id>")
@user_required
@blp.arguments(SquadUpdateSchema)
@blp.response(200, SquadSchema)
@blp.doc(security=BEARER)
def update_squad(changes: dict[str, Any], squad_id: int) -> Squad:
    """Rename, move or change the leader (organizer or squad leader)."""
    squad = _managed(squad_id)
    operations.update_squad(squad, changes)
    db.session.commit()
    return squad


@blp.post("/<int:squad_id>/members")
@user_required
@blp.arguments(MemberSchema)
@blp.response(201, SquadSchema)
@blp.doc(security=BEARER)
def add_member(data: dict[str, Any], squad_id: int) -> Squad:
    """Add a member (organizer or squad leader)."""
    squad = _managed(squad_id)
    operations.add_member(squad, data["volunteer_id"])
    db.session.commit()
    return squad


@blp.delete("/<int:squad_id>/members/<int:volunteer_id>")
@blp.response(200, SquadSchema)
@blp.doc(security=BEARER)
def remove_member(squad_id: int, volunteer_id: int) -> Squad:
    """Remove a member (organizer or squad leader)."""
    squad = _managed(squad_id)
    operations.remove_member(squad, volunteer_id)
    db.session.commit()
    return squad


def _managed(squad_id: int) -> Squad:
    user = require_user()
    squad = operations.get_squad(squad_id)
    if not operations.can_manage(user, squad):
        raise Forbidden(_("Organizers or the squad leader only."))
    return squad
