"""Cover requests ("Tìm người thay"): a confirmed volunteer who cannot come asks for
someone to take their seat.

The seat is offered at once to the best few eligible volunteers (COVER_OFFER_COUNT), in
order of fit by the matcher's own rules (`matching.cover`); until one accepts, the
volunteer stays booked and may withdraw the request. The first to accept takes the seat
in one transaction: the request moves `open` → `taken` by a conditional UPDATE (so of
any number of simultaneous accepts exactly one wins, on every database), the original
booking ends `covered`, a confirmed booking is made for the newcomer in the same seat
(the role's `taken` does not move), and the other offers are voided. Nobody by the
deadline (PROPOSAL_DEADLINE_HOURS before the start): the request lapses and the
organizer is alerted, once (`lapse_if_due`, a scheduled job). Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from coordinator.bookings import counters, rules
from coordinator.bookings.models import (
    Assignment,
    CoverOffer,
    CoverOfferStatus,
    CoverRequest,
    CoverStatus,
)
from coordinator.bookings.models import AssignmentStatus as S
from coordinator.bookings.operations import record_event, require_transition
from coordinator.errors import Conflict, NotFound
from coordinator.extensions import db
from coordinator.matching.cover import cover_candidates
from coordinator.people.models import User, Volunteer
from coordinator.sessions.models import TrainingSession

OFFER_NOT_FOUND = _l("Cover offer not found.")
# Why an offer can no longer be accepted, by the request's state: (code, message).
ENDED: dict[str, tuple[str, LazyString]] = {
    CoverStatus.TAKEN: ("cover_taken", _l("Someone else took the seat.")),
    CoverStatus.WITHDRAWN: ("cover_withdrawn", _l("The volunteer no longer needs cover.")),
    CoverStatus.LAPSED: ("cover_expired", _l("The time to take this seat has passed.")),
    CoverStatus.CLOSED: ("cover_closed", _l("This seat no longer needs cover.")),
}


def cover_deadline(session: TrainingSession) -> datetime:
    """Offers are answered until PROPOSAL_DEADLINE_HOURS before the start (as proposals)."""
    return session.starts_at - timedelta(hours=current_app.config["PROPOSAL_DEADLINE_HOURS"])


def open_request(assignment_id: int) -> CoverRequest | None:
    return db.session.scalar(
        sa.select(CoverRequest).where(
            CoverRequest.assignment_id == assignment_id, CoverRequest.status == CoverStatus.OPEN
        )
    )


def offers_of(request: CoverRequest) -> list[CoverOffer]:
    return list(
        db.session.scalars(
            sa.select(CoverOffer)
            .where(CoverOffer.cover_request_id == request.id)
            .order_by(CoverOffer.rank)
        )
    )


def _payload(request: CoverRequest, **extra: Any) -> dict[str, Any]:
    return {"cover_request_id": request.id, "cover_status": request.status, **extra}


def request_cover(assignment: Assignment, user: User, now: datetime) -> CoverRequest:
    """Offer the seat of a confirmed booking to the best COVER_OFFER_COUNT eligible
    volunteers. 409 when the booking is not confirmed, already has an open request, the
    session is closed, its deadline has passed, or nobody is eligible."""
    counters.lock_and_reread(assignment)
    if assignment.status != S.CONFIRMED:
        raise Conflict(
            _l(
                "Only a confirmed booking can be covered (this one is %(status)s).",
                status=assignment.status,
            ),
            {"status": [assignment.status]},
            code="not_confirmed",
        )
    session = db.session.get_one(TrainingSession, assignment.session_id)
    rules.require_open(session)
    deadline = cover_deadline(session)
    if deadline <= now:
        raise Conflict(
            _l("Too close to the start to find cover: tell the organizer or withdraw."),
            code="cover_too_late",
        )
    if open_request(assignment.id) is not None:
        raise Conflict(
            _l("Cover is already being sought for this booking."),
            code="cover_requested",
        )
    count = current_app.config["COVER_OFFER_COUNT"]
    chosen = cover_candidates(assignment, now)[:count]
    if not chosen:
        raise Conflict(
            _l("Nobody eligible can take this seat: please tell the organizer."),
            code="no_cover_candidates",
        )
    request = CoverRequest(
        assignment_id=assignment.id,
        session_id=session.id,
        role_id=assignment.role_id,
        status=CoverStatus.OPEN,
        deadline=deadline,
        requested_by=user.id,
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    offers = [
        CoverOffer(
            cover_request_id=request.id,
            volunteer_id=volunteer_id,
            rank=rank,
            status=CoverOfferStatus.OFFERED,
            created_at=now,
        )
        for rank, (volunteer_id, _cost) in enumerate(chosen, start=1)
    ]
    db.session.add_all(offers)
    db.session.flush()
    record_event(
        "cover.requested",
        assignment,
        **_payload(
            request,
            offer_ids=[o.id for o in offers],
            offered_volunteer_ids=[o.volunteer_id for o in offers],
            deadline=deadline.isoformat(),
        ),
    )
    return request


def _void_offers(request: CoverRequest, now: datetime, keep: int | None = None) -> None:
    db.session.execute(
        sa.update(CoverOffer)
        .where(
            CoverOffer.cover_request_id == request.id,
            CoverOffer.status == CoverOfferStatus.OFFERED,
            CoverOffer.id != (keep or 0),
        )
        .values(status=CoverOfferStatus.VOIDED, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, CoverOffer):
            db.session.expire(obj, ["status", "answered_at"])


def _end(request: CoverRequest, status: CoverStatus, now: datetime, **values: Any) -> bool:
    """`open` → `status` only if still open (the one arbiter between racing callers)."""
    result = cast(
        sa.CursorResult[Any],
        db.session.execute(
            sa.update(CoverRequest)
            .where(CoverRequest.id == request.id, CoverRequest.status == CoverStatus.OPEN)
            .values(status=status, closed_at=now, **values)
            .execution_options(synchronize_session=False)
        ),
    )
    db.session.expire(request)
    return result.rowcount == 1


class CoverEnded(Conflict):
    """The request is no longer open (taken, withdrawn, lapsed or closed): 409."""

    def __init__(self, status: CoverStatus) -> None:
        code, message = ENDED[status]
        super().__init__(message, {"status": [status.value]}, code=code)
        self.cover_status = status


def _refuse_ended(request: CoverRequest) -> CoverEnded:
    return CoverEnded(CoverStatus(request.status))


def withdraw_request(assignment: Assignment, now: datetime) -> CoverRequest:
    """The volunteer can come after all: the offers are voided, they stay booked."""
    counters.lock_and_reread(assignment)
    request = open_request(assignment.id)
    if request is None:
        raise NotFound(_l("No open cover request."))
    if not _end(request, CoverStatus.WITHDRAWN, now):
        raise _refuse_ended(request)
    _void_offers(request, now)
    db.session.flush()
    record_event("cover.withdrawn", assignment, **_payload(request))
    return request


def get_offer(offer_id: int, volunteer: Volunteer | None) -> CoverOffer:
    """The volunteer's own offer (anyone else's: the same 404 as a missing id)."""
    offer = db.session.get(CoverOffer, offer_id)
    if offer is None or volunteer is None or offer.volunteer_id != volunteer.id:
        raise NotFound(OFFER_NOT_FOUND)
    return offer


def accept_offer(offer: CoverOffer, now: datetime) -> Assignment:
    """The offered volunteer takes the seat: their confirmed booking is returned. Of
    simultaneous accepts of one request exactly one passes `_end`; the others get 409
    `cover_taken`. The booking rules are checked again (their week may have filled)."""
    request = db.session.get_one(CoverRequest, offer.cover_request_id)
    original = db.session.get_one(Assignment, request.assignment_id)
    # Locks in the order every booking path keeps: the role, then volunteers by id.
    counters.lock_roles([request.role_id])
    counters.lock_volunteers([original.volunteer_id, offer.volunteer_id])
    db.session.refresh(request)
    db.session.refresh(offer)
    db.session.refresh(original)
    if request.status == CoverStatus.OPEN and request.deadline <= now:
        raise CoverEnded(CoverStatus.LAPSED)  # its job may not have run yet
    if offer.status != CoverOfferStatus.OFFERED and request.status == CoverStatus.OPEN:
        raise Conflict(
            _l("You already answered this offer."),
            code="offer_answered",
        )
    session = db.session.get_one(TrainingSession, request.session_id)
    role = original.role
    volunteer = db.session.get_one(Volunteer, offer.volunteer_id)
    if request.status == CoverStatus.OPEN:
        if original.status != S.CONFIRMED:  # withdrawn or cancelled meanwhile
            raise CoverEnded(CoverStatus.CLOSED)
        require_transition(original, S.COVERED)
        rules.require_open(session)
        rules.check_volunteer(volunteer, session, role)
    if not _end(request, CoverStatus.TAKEN, now):
        raise _refuse_ended(request)
    original.status, original.decided_at = S.COVERED, now
    newcomer = Assignment(
        session_id=session.id,
        role_id=role.id,
        volunteer_id=volunteer.id,
        source="self",  # the volunteer's own choice: they withdraw, never decline, it
        status=S.CONFIRMED,
        session_version=session.version,
        created_by=volunteer.user_id,
        decided_at=now,
    )
    db.session.add(newcomer)
    db.session.flush()
    db.session.execute(
        sa.update(CoverRequest)
        .where(CoverRequest.id == request.id)
        .values(covered_by_id=newcomer.id)
        .execution_options(synchronize_session=False)
    )
    offer.status, offer.answered_at = CoverOfferStatus.ACCEPTED, now
    db.session.flush()
    _void_offers(request, now, keep=offer.id)
    db.session.refresh(request)
    record_event(
        "assignment.covered",
        original,
        **_payload(request, covered_by_id=newcomer.id, covered_by_volunteer_id=volunteer.id),
    )
    record_event(
        "assignment.cover_taken", newcomer, **_payload(request, covers_assignment_id=original.id)
    )
    return newcomer


def decline_offer(offer: CoverOffer, now: datetime) -> CoverOffer:
    """The offered volunteer says no; the request goes on with the others."""
    db.session.refresh(offer, with_for_update=True)
    if offer.status != CoverOfferStatus.OFFERED:
        request = db.session.get_one(CoverRequest, offer.cover_request_id)
        if request.status != CoverStatus.OPEN:
            raise _refuse_ended(request)
        raise Conflict(
            _l("You already answered this offer."),
            code="offer_answered",
        )
    offer.status, offer.answered_at = CoverOfferStatus.DECLINED, now
    db.session.flush()
    return offer


def lapse_if_due(request_id: int, now: datetime) -> str:
    """The deadline job's work, safe to run any number of times: an open request past
    its deadline lapses (offers voided, `cover.lapsed` whose notice alerts the
    organizer), or closes without an alert when its booking ended meanwhile. Says what
    happened (flushes)."""
    request = db.session.get(CoverRequest, request_id)
    if request is None:
        return "missing"
    counters.lock_roles([request.role_id])
    db.session.refresh(request)
    if request.status != CoverStatus.OPEN:
        return f"already {request.status}"
    if request.deadline > now:
        return "not due"
    original = db.session.get_one(Assignment, request.assignment_id)
    ended = original.status != S.CONFIRMED
    _end(request, CoverStatus.CLOSED if ended else CoverStatus.LAPSED, now)
    _void_offers(request, now)
    db.session.flush()
    if ended:
        return "closed"
    record_event("cover.lapsed", original, **_payload(request))
    return "lapsed"


def overdue_requests(now: datetime) -> list[int]:
    """Open requests past their deadline (whose job Redis may have lost)."""
    return list(
        db.session.scalars(
            sa.select(CoverRequest.id)
            .where(CoverRequest.status == CoverStatus.OPEN, CoverRequest.deadline <= now)
            .order_by(CoverRequest.id)
        )
    )


def offers_for(volunteer_id: int, now: datetime) -> list[tuple[CoverOffer, CoverRequest]]:
    """The volunteer's offers still open to an answer."""
    return list(
        db.session.execute(
            sa.select(CoverOffer, CoverRequest)
            .join(CoverRequest, CoverRequest.id == CoverOffer.cover_request_id)
            .where(
                CoverOffer.volunteer_id == volunteer_id,
                CoverOffer.status == CoverOfferStatus.OFFERED,
                CoverRequest.status == CoverStatus.OPEN,
                CoverRequest.deadline > now,
            )
            .order_by(CoverRequest.deadline)
        ).tuples()
    )


def offer_for_notice(
    assignment_id: int | None, volunteer_id: int
) -> tuple[CoverOffer, CoverRequest] | None:
    """The volunteer's offer for the seat of booking `assignment_id`, while it can still
    be accepted (the message about it is worth sending, its links work)."""
    if assignment_id is None:
        return None
    found = db.session.execute(
        sa.select(CoverOffer, CoverRequest)
        .join(CoverRequest, CoverRequest.id == CoverOffer.cover_request_id)
        .where(
            CoverRequest.assignment_id == assignment_id,
            CoverOffer.volunteer_id == volunteer_id,
            CoverOffer.status == CoverOfferStatus.OFFERED,
            CoverRequest.status == CoverStatus.OPEN,
        )
        .order_by(CoverRequest.id.desc())
        .limit(1)
    ).first()
    return (found[0], found[1]) if found is not None else None
