"""The whole life of a booking under random sequences of operations (a Hypothesis state
machine): sign-up, propose, accept, decline, expire, cover request and its acceptance,
withdraw, cancel one occurrence or the rest of a series, check-in.

Driven through the operations (not HTTP) on the test run's database, one step per
request: call, commit on success, roll back on a DomainError, drop the session. After
every step, on a fresh read: no seat is held twice, `session_roles.taken` equals the live
seat-holding bookings, waitlists are 1..n, no volunteer holds overlapping bookings,
every expired or cancelled hold freed its seat, a cancelled session has no live booking,
and an open cover request belongs to a confirmed booking.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coordinator.bookings import checkin, cover, operations
from coordinator.bookings.models import (
    LIVE_ASSIGNMENT,
    SEAT_HOLDING,
    Assignment,
    AssignmentStatus,
    CoverOffer,
    CoverOfferStatus,
    CoverRequest,
    CoverStatus,
)
from coordinator.competences.operations import import_framework_file
from coordinator.database import utcnow
from coordinator.demo import DATA
from coordinator.errors import DomainError
from coordinator.extensions import db, redis_connection
from coordinator.geography.operations import import_wards_file
from coordinator.people.models import User, Volunteer
from coordinator.people.operations import create_user, create_volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.sessions.operations import CancelScope, cancel_session, create_sessions
from tests.bookings.test_booking_properties import _delete_all_rows

# A weekly series of two in Kim Liên (Tuesday 18:00-20:00) and a single session that
# overlaps its first occurrence in a neighbouring ward: clashes, waitlists and covers.
SERIES = ("kim_lien", time(18, 0), time(20, 0), 2)
SINGLE = ("phuong_mai", time(19, 0), time(21, 0), 1)
ROLES = [
    {"role": "helper", "count": 1, "required_skills": []},
    {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"]},
]
# (skills, expert): who may take which role; everyone is free on Tuesday evenings.
VOLUNTEERS = (
    (["smartphone_basics"], True),
    (["smartphone_basics"], True),
    (["smartphone_basics"], False),
    ([], False),
    ([], False),
)
TUESDAY_EVENINGS = [{"weekday": 1, "start_minute": 17 * 60, "end_minute": 22 * 60}]
TARGET = {
    "volunteer": st.integers(0, len(VOLUNTEERS) - 1),
    "session": st.integers(0, 2),
    "role": st.sampled_from(("helper", "helper", "lead")),
}


class LifecycleMachine(RuleBasedStateMachine):
    """A fresh, seeded database per example (as test_booking_properties.BookingMachine)."""

    def __init__(self):
        super().__init__()
        db.session.remove()
        _delete_all_rows()
        redis_connection.client.flushdb()
        self.session_ids: list[int] = []
        self.volunteer_ids: list[int] = []
        self.organizer_id = 0

    def teardown(self):
        db.session.remove()

    @initialize(
        limits=st.lists(st.integers(1, 2), min_size=5, max_size=5),
        bookings=st.lists(st.tuples(*TARGET.values(), st.booleans()), min_size=3, max_size=8),
    )
    def seed(self, limits, bookings):
        """Wards, framework, an organizer, the sessions and volunteers; then a first burst
        of sign-ups and proposals, so that examples start with seats to cover."""
        import_wards_file(DATA / "wards_dong_da.json")
        import_framework_file()
        self.organizer_id = create_user("organizer@example.vn", "organizer", None).id
        zone = display_timezone()
        today = utcnow().astimezone(zone).date()
        tuesday = today + timedelta(days=8 - today.weekday())
        for ward, start, end, weeks in (SERIES, SINGLE):
            sessions = create_sessions(
                {
                    "title": f"Buổi {ward}",
                    "competence_area": "1",
                    "target_group": "residents",
                    "ward": ward,
                    "venue": f"Nhà văn hóa {ward}",
                    "starts_at": datetime.combine(tuesday, start, tzinfo=zone),
                    "ends_at": datetime.combine(tuesday, end, tzinfo=zone),
                    "capacity": 20,
                    "roles": ROLES,
                    **({"repeat": {"weekly": weeks}} if weeks > 1 else {}),
                },
                self.organizer_id,
            )
            self.session_ids += [s.id for s in sessions]
        for n, ((skills, expert), limit) in enumerate(zip(VOLUNTEERS, limits, strict=True)):
            volunteer = create_volunteer(
                {
                    "full_name": f"Tình nguyện viên {n + 1}",
                    "email": f"tnv{n + 1}@example.vn",
                    "home_ward": "kim_lien",
                    "skills": skills,
                    "languages": ["vi"],
                    "accessibility_skills": [],
                    "is_expert": expert,
                    "max_sessions_per_week": limit,
                    "availability": TUESDAY_EVENINGS,
                }
            )
            self.volunteer_ids.append(volunteer.id)
        db.session.commit()
        db.session.remove()
        for volunteer, session, role, proposed in bookings:
            (self.propose if proposed else self.sign_up)(volunteer, session, role)

    # -- helpers ------------------------------------------------------------------------

    def _request(self, name: str, operation, *args) -> bool:
        try:
            result = operation(*args)
        except DomainError as error:
            db.session.rollback()
            event(f"{name}: {error.code}")
            return False
        else:
            db.session.commit()
            event(f"{name}: {getattr(result, 'status', 'ok')}")
            return True
        finally:
            db.session.remove()

    def _pick(self, data, model, *where):
        ids = list(db.session.scalars(sa.select(model.id).where(*where).order_by(model.id)))
        if not ids:
            return None
        return db.session.get(model, data.draw(st.sampled_from(ids), label=model.__name__))

    def _session(self, index: int) -> TrainingSession:
        return db.session.get(TrainingSession, self.session_ids[index])

    def _volunteer(self, index: int) -> Volunteer:
        return db.session.get(Volunteer, self.volunteer_ids[index])

    # -- rules --------------------------------------------------------------------------

    @rule(**TARGET)
    def sign_up(self, volunteer, session, role):
        self._request(
            "sign_up",
            operations.sign_up,
            self._session(session),
            role,
            self._volunteer(volunteer),
            None,
        )

    @rule(**TARGET)
    def propose(self, volunteer, session, role):
        self._request(
            "propose",
            operations.propose_volunteer,
            self._session(session),
            role,
            self._volunteer(volunteer),
            self.organizer_id,
        )

    @rule(data=st.data())
    def accept(self, data):
        booking = self._pick(data, Assignment, Assignment.status == AssignmentStatus.PROPOSED)
        if booking is not None:
            self._request("accept", operations.accept, booking)

    @rule(data=st.data())
    def decline(self, data):
        booking = self._pick(data, Assignment, Assignment.source != "self")
        if booking is not None:
            self._request("decline", operations.decline, booking)

    @rule(data=st.data())
    def expire(self, data):
        """The expiry job at (after) the proposal's deadline."""
        booking = self._pick(data, Assignment, Assignment.status == AssignmentStatus.PROPOSED)
        if booking is not None:
            due = booking.answer_by + timedelta(seconds=1)
            self._request("expire", operations.expire, booking, due)

    @rule(data=st.data())
    def withdraw(self, data):
        booking = self._pick(data, Assignment, Assignment.status.in_(LIVE_ASSIGNMENT))
        if booking is not None:
            self._request("withdraw", operations.withdraw, booking)

    @rule(data=st.data())
    def request_cover(self, data):
        booking = self._pick(data, Assignment, Assignment.status == AssignmentStatus.CONFIRMED)
        if booking is not None:
            user = db.session.get(User, self.organizer_id)
            self._request("request_cover", cover.request_cover, booking, user, utcnow())

    @rule(data=st.data())
    def accept_cover(self, data):
        offer = self._pick(data, CoverOffer, CoverOffer.status == CoverOfferStatus.OFFERED)
        if offer is not None:
            self._request("accept_cover", cover.accept_offer, offer, utcnow())

    @rule(data=st.data())
    def withdraw_cover(self, data):
        request = self._pick(data, CoverRequest, CoverRequest.status == CoverStatus.OPEN)
        if request is not None:
            booking = db.session.get(Assignment, request.assignment_id)
            self._request("withdraw_cover", cover.withdraw_request, booking, utcnow())

    @rule(session=st.integers(0, 2), rest=st.booleans(), now=st.integers(0, 3))
    def cancel(self, session, rest, now):
        """Cancelling ends a session for good: one draw in four, so that most examples
        live long enough to book, cover and expire first."""
        if now:
            return
        scope = CancelScope.REST_OF_SERIES if rest else CancelScope.OCCURRENCE
        self._request(
            f"cancel {scope.value}", cancel_session, self._session(session), "Mưa bão", scope
        )

    @rule(data=st.data())
    def check_in(self, data):
        """The volunteer's own "I came", at the start (inside the check-in window)."""
        booking = self._pick(data, Assignment, Assignment.status.in_(LIVE_ASSIGNMENT))
        if booking is not None:
            starts = db.session.get(TrainingSession, booking.session_id).starts_at
            self._request("check_in", checkin.self_report, booking, starts)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def the_books_balance(self):
        db.session.expire_all()
        try:
            sessions = {s.id: s for s in db.session.scalars(sa.select(TrainingSession))}
            roles = list(db.session.scalars(sa.select(SessionRole)))
            bookings = list(db.session.scalars(sa.select(Assignment).order_by(Assignment.id)))
            requests = list(db.session.scalars(sa.select(CoverRequest)))
            by_id = {b.id: b for b in bookings}

            holding = Counter(b.role_id for b in bookings if b.status in SEAT_HOLDING)
            for role in roles:
                # taken counts the live seat holders (so every expired, declined,
                # withdrawn, covered or cancelled hold gave its seat back), never > count.
                assert holding[role.id] == role.taken <= role.count, (
                    f"role {role.id}: {holding[role.id]} holders, taken {role.taken}, "
                    f"count {role.count}"
                )
                line = sorted(
                    b.waitlist_position
                    for b in bookings
                    if b.role_id == role.id and b.status == AssignmentStatus.WAITLISTED
                )
                assert line == list(range(1, len(line) + 1)), f"role {role.id}: {line}"

            live = Counter(
                (b.session_id, b.volunteer_id) for b in bookings if b.status in LIVE_ASSIGNMENT
            )
            assert max(live.values(), default=0) <= 1, "a volunteer booked twice in a session"
            for b in bookings:
                if b.status not in (AssignmentStatus.WAITLISTED,):
                    assert b.waitlist_position is None, f"booking {b.id} keeps a place in line"

            held = defaultdict(list)
            for b in bookings:
                if b.status in SEAT_HOLDING:
                    held[b.volunteer_id].append(sessions[b.session_id])
            for volunteer_id, taken in held.items():
                for i, first in enumerate(taken):
                    for second in taken[i + 1 :]:
                        assert (
                            first.ends_at <= second.starts_at or second.ends_at <= first.starts_at
                        ), f"volunteer {volunteer_id} holds {first.id} and {second.id} at once"

            for session in sessions.values():
                if session.status == SessionStatus.CANCELLED:
                    assert not [
                        b.id
                        for b in bookings
                        if b.session_id == session.id and b.status in LIVE_ASSIGNMENT
                    ], f"cancelled session {session.id} has live bookings"

            open_requests = Counter(r.assignment_id for r in requests if r.status == "open")
            for assignment_id, count in open_requests.items():
                assert count == 1, f"booking {assignment_id} has {count} open cover requests"
                assert by_id[assignment_id].status == AssignmentStatus.CONFIRMED, (
                    f"an open cover request of a {by_id[assignment_id].status} booking"
                )
            for r in requests:
                if r.status == CoverStatus.TAKEN:
                    assert by_id[r.assignment_id].status == AssignmentStatus.COVERED
                    assert r.covered_by_id is not None
        finally:
            db.session.remove()


TestLifecycle = pytest.mark.usefixtures("app")(LifecycleMachine.TestCase)
TestLifecycle.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
