"""The organizers' page of message costs: /organize/messages/costs?month=&province=
(the same figures as GET /api/v1/notifications/costs, within the caller's units)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator.errors import Invalid
from coordinator.notifications import costs
from coordinator.notifications.planning import clock
from coordinator.people.scopes import current_scope
from coordinator.web.access import organizer_required

bp = Blueprint("notification_costs", __name__)


@bp.get("/organize/messages/costs")
@organizer_required
def message_costs() -> ResponseReturnValue:
    """Messages and their estimated cost per province, ward and channel in a month."""
    scope = current_scope()
    provinces = costs.provinces_in_scope(scope)
    month_text = request.args.get("month", "").strip()
    province = request.args.get("province", "").strip() or None
    error, status, report = None, 200, None
    if province is not None and province not in dict(provinces):
        error, status = _("Choose one of your provinces."), 422
    else:
        try:
            month = costs.parse_month(month_text or None, clock())
        except Invalid:
            error, status = _("A month as YYYY-MM, e.g. 2026-12."), 422
        else:
            report = costs.report(month, scope, province)
            month_text = report.month
    return render_template(
        "notifications/costs.html",
        report=report,
        provinces=provinces,
        month=month_text,
        province=province,
        error=error,
    ), status
