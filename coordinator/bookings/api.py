"""Sign-ups, assignments, staffing, waitlists and the audit trail of a session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _

from coordinator import clock
from coordinator.bookings import cover, operations, registrations
from coordinator.bookings.models import Assignment, CoverOffer, CoverRequest, Registration
from coordinator.bookings.schemas import (
    AssignmentRequestSchema,
    AssignmentSchema,
    AuditEntrySchema,
    CoverOfferSchema,
    CoverRequestSchema,
    ReasonSchema,
    RegistrationRequestSchema,
    RegistrationSchema,
    SignupRequestSchema,
    SquadAssignmentResultSchema,
    StaffingSchema,
)
from coordinator.errors import Invalid, NotFound
from coordinator.events.models import DomainEvent
from coordinator.extensions import Blueprint, db
from coordinator.paging import PAGE_HEADERS, PageArgs, page_headers
from coordinator.participants.records import organizes
from coordinator.people.auth import is_organizer, require_role, roles_required
from coordinator.people.models import Participant, User
from coordinator.people.operations import get_volunteer
from coordinator.sessions.operations import get_session, organized_session
from coordinator.squads.operations import get_squad

blp = Blueprint("bookings", __name__, url_prefix="/api/v1", description="Sign-ups and assignments")
BEARER = [{"bearerAuth": []}]
# Who may write is checked before the body is read: a stranger learns nothing from it.
organizers_only = roles_required("organizer")
staff_only = roles_required("organizer", "volunteer")


def _own_or_organizer(assignment: Assignment) -> User:
    """The booked volunteer or an organizer of the session's unit; others see the same 404
    as a missing id."""
    user = require_role("organizer", "volunteer")
    operations.require_own_or_organized(user, assignment)
    return user


@blp.post("/sessions/<int:session_id>/signups")
@staff_only
@blp.arguments(SignupRequestSchema)
@blp.response(201, AssignmentSchema)
@blp.doc(security=BEARER)
def create_signup(data: dict[str, Any], session_id: int) -> Assignment:
    """Sign up for a role: confirmed if a seat is free, else waitlisted with a position."""
    user = require_role("organizer", "volunteer")
    if is_organizer(user):
        if "volunteer_id" not in data:
            raise Invalid.field("volunteer_id", _("volunteer_id is required."))
        volunteer = get_volunteer(data["volunteer_id"])
    else:
        volunteer = operations.volunteer_of(user)
        if data.get("volunteer_id", volunteer.id) != volunteer.id:
            raise NotFound(_("Volunteer not found."))
    assignment = operations.sign_up(get_session(session_id), data["role"], volunteer, user.id)
    db.session.commit()
    return assignment


@blp.delete("/signups/<int:assignment_id>")
@staff_only
@blp.response(200, AssignmentSchema)
@blp.doc(
    security=BEARER, parameters=[{"in": "query", "name": "reason", "schema": {"type": "string"}}]
)
def withdraw_signup(assignment_id: int) -> Assignment:
    """Withdraw (the volunteer or an organizer); the waitlist moves up."""
    assignment = operations.get_assignment(assignment_id)
    _own_or_organizer(assignment)
    reason = (request.args.get("reason") or "")[:1000] or None
    operations.withdraw(assignment, reason)
    db.session.commit()
    return assignment


@blp.get("/assignments/<int:assignment_id>")
@staff_only
@blp.response(200, AssignmentSchema)
@blp.doc(security=BEARER)
def get_assignment(assignment_id: int) -> Assignment:
    """One booking (the volunteer or an organizer)."""
    assignment = operations.get_assignment(assignment_id)
    _own_or_organizer(assignment)
    return assignment


@blp.post("/assignments/<int:assignment_id>/accept")
@staff_only
@blp.response(200, AssignmentSchema)
@blp.doc(security=BEARER)
def accept_assignment(assignment_id: int) -> Assignment:
    """Accept a proposal (the volunteer)."""
    assignment = operations.get_assignment(assignment_id)
    _own_or_organizer(assignment)
    operations.accept(assignment)
    db.session.commit()
    return assignment


@blp.post("/assignments/<int:assignment_id>/decline")
@staff_only
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, AssignmentSchema)
@blp.doc(security=BEARER)
def decline_assignment(data: dict[str, Any] | None, assignment_id: int) -> Assignment:
    """Decline a proposal or an organizer's assignment (the volunteer)."""
    assignment = operations.get_assignment(assignment_id)
    _own_or_organizer(assignment)
    operations.decline(assignment, (data or {}).get("reason"))
    db.session.commit()
    return assignment


@blp.post("/sessions/<int:session_id>/assignments")
@organizers_only
@blp.arguments(AssignmentRequestSchema)
@blp.response(201, SquadAssignmentResultSchema)
@blp.doc(security=BEARER)
def create_assignment(data: dict[str, Any], session_id: int) -> dict[str, Any]:
    """Assign a volunteer, or a whole squad (all or nothing), directly (organizers)."""
    user = require_role("organizer")
    session = get_session(session_id)
    if "squad_id" in data:
        created, skipped = operations.assign_squad(
            session, get_squad(data["squad_id"]), data.get("role"), user.id, data["override"]
        )
    else:
        volunteer = get_volunteer(data["volunteer_id"])
        if data["propose"]:
            created = [operations.propose_volunteer(session, data["role"], volunteer, user.id)]
        else:
            created = [
                operations.assign_volunteer(
                    session, data["role"], volunteer, user.id, override=data["override"]
                )
            ]
        skipped = []
    db.session.commit()
    return {"assignments": created, "skipped": skipped}


@blp.get("/sessions/<int:session_id>/staffing")
@blp.response(200, StaffingSchema(many=True))
def get_staffing(session_id: int) -> list[dict[str, Any]]:
    """Per role: needed, confirmed, proposed, waitlisted."""
    return operations.staffing(get_session(session_id))


@blp.get("/sessions/<int:session_id>/bookings")
@blp.response(200, AssignmentSchema(many=True))
@blp.doc(security=BEARER)
def list_bookings(session_id: int) -> Sequence[Assignment]:
    """Every booking of a session, waitlists in order (organizers of its unit)."""
    require_role("organizer")
    organized_session(session_id)
    return db.session.scalars(
        sa.select(Assignment)
        .where(Assignment.session_id == session_id)
        .order_by(
            Assignment.role_id, Assignment.status, Assignment.waitlist_position, Assignment.id
        )
    ).all()


@blp.get("/volunteers/<int:volunteer_id>/assignments")
@blp.arguments(PageArgs, location="query")
@blp.response(200, AssignmentSchema(many=True), headers=PAGE_HEADERS)
@blp.doc(security=BEARER)
def list_volunteer_assignments(
    args: dict[str, Any], volunteer_id: int
) -> tuple[list[Assignment], int, dict[str, str]]:
    """A volunteer's bookings (self, or an organizer: those in sessions of their units).
    By id, a page at a time: the total in X-Total-Count, the next page in Link."""
    user = require_role("organizer", "volunteer")
    if not is_organizer(user) and (user.volunteer is None or user.volunteer.id != volunteer_id):
        raise NotFound(_("Volunteer not found."))
    limit, offset = args["limit"], args["offset"]
    rows, total = operations.bookings_of(
        volunteer_id, organized=is_organizer(user), limit=limit, offset=offset
    )
    return rows, 200, page_headers(total, limit, offset)


@blp.get("/sessions/<int:session_id>/audit")
@blp.response(200, AuditEntrySchema(many=True))
@blp.doc(security=BEARER)
def session_audit(session_id: int) -> Sequence[DomainEvent]:
    """Who changed what in this session and its bookings, when and why (organizers of its
    unit)."""
    require_role("organizer")
    organized_session(session_id)
    return db.session.scalars(
        sa.select(DomainEvent)
        .where(DomainEvent.aggregate_type == "session", DomainEvent.aggregate_id == session_id)
        .order_by(DomainEvent.id)
    ).all()


@blp.post("/sessions/<int:session_id>/registrations")
@roles_required("organizer", "participant")
@blp.arguments(RegistrationRequestSchema)
@blp.response(201, RegistrationSchema)
@blp.doc(security=BEARER)
def create_registration(data: dict[str, Any], session_id: int) -> Registration:
    """Register a participant: registered while places last, else waitlisted. Organizers
    register anyone; a participant's own login registers that participant (another
    participant's id answers like one that names nobody)."""
    user = require_role("organizer", "participant")
    participant = db.session.get(Participant, data["participant_id"])
    allowed = participant is not None and (
        participant.user_id == user.id or (is_organizer(user) and organizes(participant))
    )
    if not allowed or participant.erased_at is not None:
        raise Invalid.field("participant_id", _("Unknown participant."))
    registration = registrations.register(get_session(session_id), participant, user.id)
    db.session.commit()
    return registration


@blp.delete("/registrations/<int:registration_id>")
@blp.response(200, RegistrationSchema)
@blp.doc(security=BEARER)
def cancel_registration(registration_id: int) -> Registration:
    """Cancel a registration; the waitlist moves up (organizers)."""
    require_role("organizer")
    registration = registrations.cancel_registration(
        registrations.organized_registration(registration_id)
    )
    db.session.commit()
    return registration


@blp.post("/assignments/<int:assignment_id>/cover")
@staff_only
@blp.response(201, CoverRequestSchema)
@blp.doc(security=BEARER)
def request_cover(assignment_id: int) -> CoverRequest:
    """Find cover ("Tìm người thay"): the seat of this confirmed booking is offered to the
    best few eligible volunteers by the matcher's rules (COVER_OFFER_COUNT); the first to
    accept takes it, and until then the volunteer stays booked (the volunteer or an
    organizer). 409 when it is not confirmed, already asked, too late, or nobody fits."""
    assignment = operations.get_assignment(assignment_id)
    user = _own_or_organizer(assignment)
    request_row = cover.request_cover(assignment, user, clock.now())
    db.session.commit()
    return request_row


@blp.delete("/assignments/<int:assignment_id>/cover")
@staff_only
@blp.response(200, CoverRequestSchema)
@blp.doc(security=BEARER)
def withdraw_cover_request(assignment_id: int) -> CoverRequest:
    """The volunteer can come after all: the open request ends and its offers are voided
    (404 when there is none)."""
    assignment = operations.get_assignment(assignment_id)
    _own_or_organizer(assignment)
    request_row = cover.withdraw_request(assignment, clock.now())
    db.session.commit()
    return request_row


@blp.post("/cover-offers/<int:offer_id>/accept")
@staff_only
@blp.response(200, AssignmentSchema)
@blp.doc(security=BEARER)
def accept_cover_offer(offer_id: int) -> Assignment:
    """Take the seat offered (the volunteer asked): their new confirmed booking. The first
    to accept wins; later ones get 409 `cover_taken` (or `cover_withdrawn`,
    `cover_expired`, `cover_closed`)."""
    user = require_role("organizer", "volunteer")
    offer = cover.get_offer(offer_id, user.volunteer)
    booking = cover.accept_offer(offer, clock.now())
    db.session.commit()
    return booking


@blp.post("/cover-offers/<int:offer_id>/decline")
@staff_only
@blp.response(200, CoverOfferSchema)
@blp.doc(security=BEARER)
def decline_cover_offer(offer_id: int) -> CoverOffer:
    """Say no to a seat offered (the volunteer asked); the others may still take it."""
    user = require_role("organizer", "volunteer")
    offer = cover.decline_offer(cover.get_offer(offer_id, user.volunteer), clock.now())
    db.session.commit()
    return offer
