"""POST /api/v1/participants: a learner registers (with consent), or an organizer for them."""

from __future__ import annotations

from flask_smorest import Blueprint

from coordinator.calendar.tokens import feed_url, subscribe_links
from coordinator.extensions import ErrorSchema, db
from coordinator.participants.operations import create_participant
from coordinator.participants.schemas import ParticipantCreatedSchema, ParticipantCreateSchema
from coordinator.people.auth import authenticated_user, is_organizer

blp = Blueprint("participants", __name__, url_prefix="/api/v1", description="Participants")


@blp.post("/participants")
@blp.arguments(ParticipantCreateSchema)
@blp.response(201, ParticipantCreatedSchema)
@blp.alt_response(422, schema=ErrorSchema, description="Invalid input or no consent")
@blp.doc(security=[{}, {"bearerAuth": []}])
def register_participant(data):
    """Register a participant; the answer holds their private calendar link."""
    user = authenticated_user()
    participant, token = create_participant(
        data, by_organizer=is_organizer(user), actor_id=user.id if user else None
    )
    db.session.commit()
    return {
        "id": participant.id,
        "ward": participant.ward,
        "target_group": participant.target_group,
        **subscribe_links(feed_url("p", token)),
    }
