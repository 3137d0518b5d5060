"""POST /api/v1/me/feed-token: a new private calendar link for the caller."""

from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, fields

from coordinator.calendar.tokens import feed_url, rotate_feed_token, subscribe_links
from coordinator.errors import Forbidden
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.people.auth import require_role

blp = Blueprint("calendar_api", __name__, url_prefix="/api/v1", description="Calendar feeds")


class FeedLinkSchema(Schema):
    feed_url = fields.String(required=True, metadata={"description": "https link (Outlook)"})
    webcal_url = fields.String(required=True, metadata={"description": "webcal:// (Apple)"})
    google_url = fields.String(required=True, metadata={"description": "Google: add by URL"})


@blp.post("/me/feed-token")
@blp.response(201, FeedLinkSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Not logged in")
@blp.alt_response(403, schema=ErrorSchema, description="Not a volunteer")
@blp.doc(security=[{"bearerAuth": []}])
def rotate_my_feed_token() -> dict[str, str]:
    """A new private feed URL for the logged-in volunteer; the old one stops working."""
    user = require_role("volunteer")
    if user.volunteer is None:
        raise Forbidden(_("For volunteers only."))
    token = rotate_feed_token(volunteer_id=user.volunteer.id)
    db.session.commit()
    return subscribe_links(feed_url("v", token))
