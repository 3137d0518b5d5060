"""GET/PUT /api/v1/me/notification-preferences: the caller's kinds of message and their
channels (the preferences page's rules); GET /api/v1/notifications/costs: messages and
their estimated cost per unit, month and channel (organizers, within their units)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from coordinator.errors import Forbidden, Invalid, NotFound
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.notifications import choices, costs
from coordinator.notifications.kinds import USER, VOLUNTEER
from coordinator.notifications.planning import clock
from coordinator.notifications.schemas import (
    MessageCostArgs,
    MessageCostReportSchema,
    NotificationPreferencesSchema,
)
from coordinator.people.auth import require_user, roles_required
from coordinator.people.models import User
from coordinator.people.scopes import NATIONAL, current_scope

blp = Blueprint(
    "notifications_api",
    __name__,
    url_prefix="/api/v1",
    description="Notifications: message preferences, message costs",
)
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _error(status: int, description: str):
    return blp.alt_response(status, schema=ErrorSchema, description=description)


# The audiences in words: a person never reads the code.
AUDIENCE_WORDS = {VOLUNTEER: _l("a volunteer"), USER: _l("an organizer")}


def _audience(audience: str) -> str:
    return str(AUDIENCE_WORDS.get(audience, _l("this role")))


def _recipients(user: User) -> dict[str, int]:
    """The ways this user gets messages: as a volunteer, and as an organizer."""
    found = {}
    if user.volunteer is not None:
        found[VOLUNTEER] = user.volunteer.id
    if user.has_role("organizer"):
        found[USER] = user.id
    return found


def _view(user: User) -> dict[str, Any]:
    items = []
    for audience, recipient_id in _recipients(user).items():
        for choice in choices.current(audience, recipient_id):
            items.append(
                {
                    "audience": audience,
                    "kind": choice["code"],
                    "label": choice["label"],
                    "enabled": choice["enabled"],
                    "channels": choice["channels"].split(","),
                    "channel_choices": [order.split(",") for order in choice["orders"]],
                }
            )
    return {"preferences": items}


@blp.get("/me/notification-preferences")
@blp.response(200, NotificationPreferencesSchema)
@_error(401, "Not logged in")
@blp.doc(security=BEARER)
def get_preferences() -> dict[str, Any]:
    """Every kind of message the caller can get (as a volunteer, as an organizer): on or
    off, and the channels it goes by."""
    return _view(require_user())


@blp.put("/me/notification-preferences")
@blp.arguments(NotificationPreferencesSchema)
@blp.response(200, NotificationPreferencesSchema)
@_error(401, "Not logged in")
@_error(422, "A kind the caller does not get, or channels the kind does not offer")
@blp.doc(security=BEARER)
def put_preferences(body: dict[str, Any]) -> dict[str, Any]:
    """Change some kinds (the others stay): `enabled` and/or `channels`, one of the
    kind's `channel_choices` (the 7-day reminder goes by email only, the 2-hour one by
    Zalo or SMS only). All or nothing."""
    user = require_user()
    mine = _recipients(user)
    problems: dict[str, list[str]] = {}
    for index, item in enumerate(body["preferences"]):
        audience, kind = item["audience"], item["kind"]
        if audience not in mine:
            problems[f"preferences.{index}.audience"] = [
                _("You get no messages as %(role)s.", role=_audience(audience))
            ]
            continue
        channels = ",".join(item["channels"]) if "channels" in item else None
        problem = choices.change(audience, mine[audience], kind, item.get("enabled"), channels)
        if problem == "unknown_kind":
            problems[f"preferences.{index}.kind"] = [
                _("Not a kind of message for %(role)s.", role=_audience(audience))
            ]
        elif problem == "channels":
            offered = " | ".join(choices.orders_for(kind))
            problems[f"preferences.{index}.channels"] = [
                _("Not a choice for this kind (%(offered)s).", offered=offered)
            ]
    if problems:
        db.session.rollback()
        raise Invalid(_("Not saved."), problems)
    db.session.commit()
    return _view(user)


@blp.get("/notifications/costs")
@roles_required("organizer")
@blp.arguments(MessageCostArgs, location="query")
@blp.response(200, MessageCostReportSchema)
@_error(401, "Not logged in")
@_error(403, "Not an organizer, or a province outside the caller's units")
@_error(404, "No such province")
@blp.doc(security=BEARER)
def get_costs(args: dict[str, Any]) -> dict[str, Any]:
    """Messages sent and their estimated cost in a month, per province and ward and by
    channel, with the monthly budget per province and what is left of it."""
    scope = current_scope()
    province = args.get("province")
    if province is not None:
        if not costs.province_in_scope(province, scope):
            if costs.province_in_scope(province, NATIONAL):
                raise Forbidden(_("Outside the units you organize."))
            raise NotFound(_("No such province."))
    report = costs.report(costs.parse_month(args.get("month"), clock()), scope, province)
    return _dump(report)


def _dump(report: costs.CostReport) -> dict[str, Any]:
    def unit(entry: costs.UnitCost) -> dict[str, Any]:
        return {
            "code": entry.code,
            "name": entry.name,
            "messages": entry.messages,
            "vnd": entry.vnd,
            "channels": [asdict(c) for c in entry.channels.values()],
        }

    return {
        "month": report.month,
        "budget_vnd": report.budget_vnd,
        "messages": report.messages,
        "vnd": report.vnd,
        "provinces": [
            {
                **unit(p),
                "spent_vnd": p.spent_vnd,
                "budget_vnd": p.budget_vnd,
                "left_vnd": p.left_vnd,
                "wards": [unit(w) for w in p.wards.values()],
            }
            for p in report.provinces
        ],
    }
