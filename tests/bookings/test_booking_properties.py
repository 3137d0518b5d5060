"""Booking invariants under random sequences of operations (a Hypothesis state machine).

The machine drives the real operations of coordinator.bookings and update_session against
the test run's database (SQLite or PostgreSQL), one step per request: call the operation,
commit when it succeeds, roll back on a DomainError, then drop the session as the request
teardown does. After every step fresh queries check that seats, waitlists, time conflicts
and weekly limits still hold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coordinator.bookings import counters, operations, rules
from coordinator.bookings.models import Assignment
from coordinator.bookings.rules import SEAT_HOLDING, _week_bounds, time_refusal, travel_gap
from coordinator.competences.operations import import_framework_file
from coordinator.database import utcnow
from coordinator.demo import DATA
from coordinator.errors import Conflict, DomainError
from coordinator.events.models import DomainEvent
from coordinator.extensions import db, redis_connection
from coordinator.geography.operations import import_wards_file, neighbor_map
from coordinator.people.models import Volunteer
from coordinator.people.operations import create_user, create_volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, TrainingSession
from coordinator.sessions.operations import create_sessions, update_session

# (ward, local start, local end, roles). Next week's Tuesday, so all three fall in one
# week and none is near enough to count as a late withdrawal. A and B overlap (neighbouring
# wards); C starts 15 minutes after B ends, in a ward that is no neighbour of B's, so the
# travel gap keeps B and C apart; A and C are compatible but count twice in the week.
SESSIONS = (
    ("kim_lien", time(9, 0), time(11, 0), ("helper", "lead")),
    ("phuong_mai", time(10, 30), time(12, 0), ("helper", "interpreter")),
    ("lang_thuong", time(12, 15), time(13, 30), ("helper", "lead")),
)
REQUIRED_SKILLS = {"helper": [], "lead": ["smartphone_basics"], "interpreter": []}
ROLE_COUNT = sum(len(roles) for *_, roles in SESSIONS)

# (skills, accessibility skills, expert): who may take which role.
VOLUNTEERS = (
    (["smartphone_basics"], [], True),
    (["smartphone_basics"], ["sign_language"], True),
    (["smartphone_basics"], [], False),  # a lead needs an expert: refused
    ([], ["sign_language"], False),
    ([], [], False),
    (["cyber_safety"], [], False),
)

# Sign-ups are the only way onto a waitlist: weight them so waitlists form often.
BOOKINGS = ("sign_up", "sign_up", "sign_up", "assign_volunteer", "propose")
# What happens to a booking next: a withdrawal (withdraw()) from any seat, from a seat
# people wait for (so that promotion runs with a line), or from a waitlist; a decline; an
# acceptance.
ANSWERS = ("withdraw", "withdraw_ahead", "leave_waitlist", "decline", "accept")
# A volunteer, a session and one of its roles (an index into the session's roles).
TARGET = {
    "volunteer": st.integers(0, len(VOLUNTEERS) - 1),
    "session": st.integers(0, len(SESSIONS) - 1),
    "role": st.sampled_from((0, 0, 0, 1)),  # mostly helper, which anyone may take
}


def _delete_all_rows() -> None:
    """conftest's _empty_tables as it works on SQLite, on every database: DELETE, children
    first. On PostgreSQL a TRUNCATE of every table costs about 0.3 s, ten seconds over a
    run of thirty examples; DELETE of a few dozen rows costs milliseconds. Ids keep counting up,
    which nothing here depends on."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


class BookingMachine(RuleBasedStateMachine):
    """A fresh, seeded database per example.

    The `app` fixture (applied to the TestCase below) pushes one app context for the whole
    test function and empties the tables once. Hypothesis runs many examples inside that
    single test function, so each machine empties every table again itself in __init__
    (see _delete_all_rows) and flushes the test Redis database the after-commit relay
    writes to, then `seed` imports everything afresh. That needs nothing beyond what the
    test function's fixtures provide, and an example that failed half-way (an exception
    in a step, an open transaction) cannot leak into the next: __init__ and teardown both
    discard the session first.
    """

    def __init__(self):
        super().__init__()
        db.session.remove()
        _delete_all_rows()
        redis_connection.client.flushdb()
        self.session_ids: list[int] = []
        self.volunteer_ids: list[int] = []
        self.organizer_id: int | None = None
        # For _free_seats_go_to_the_waitlist: roles whose promotion ran in this step (set
        # by the rules, cleared by the check), and per role the waitlist it last excused.
        self.promoted_roles: set[int] = set()
        self.excused: dict[int, set[int]] = {}
        # For _promotion_follows_the_line: each role's waitlist at the last check.
        self.lines: dict[int, list[int]] = {}

    def teardown(self):
        db.session.remove()
        if self.session_ids:  # how far the example got (--hypothesis-show-statistics)
            promoted = db.session.scalar(
                sa.select(sa.func.count()).where(DomainEvent.type == "waitlist.promoted")
            )
            event(f"promotions: {min(promoted, 3)}{'+' if promoted >= 3 else ''}")
            db.session.remove()

    # -- setup --------------------------------------------------------------------------

    @initialize(
        counts=st.lists(st.integers(1, 2), min_size=ROLE_COUNT, max_size=ROLE_COUNT),
        limits=st.lists(st.integers(1, 3), min_size=len(VOLUNTEERS), max_size=len(VOLUNTEERS)),
        bookings=st.lists(
            st.tuples(st.sampled_from(BOOKINGS), *TARGET.values()), min_size=10, max_size=20
        ),
    )
    def seed(self, counts, limits, bookings):
        """Wards, framework, an organizer, the sessions and volunteers; then a first burst
        of bookings (as `book` makes them), so that examples start with full roles, long
        waitlists and volunteers waiting in one session while booked in a clashing one:
        the states promotion has to get right."""
        import_wards_file(DATA / "wards_dong_da.json")
        import_framework_file()
        self.organizer_id = create_user("organizer@example.vn", "organizer", None).id
        zone = display_timezone()
        today = utcnow().astimezone(zone).date()
        tuesday = today + timedelta(days=8 - today.weekday())
        counts = iter(counts)
        for n, (ward, start, end, roles) in enumerate(SESSIONS):
            (session,) = create_sessions(
                {
                    "title": f"Buổi {n + 1}",
                    "competence_area": "1",
                    "target_group": "residents",
                    "ward": ward,
                    "venue": f"Nhà văn hóa {ward}",
                    "starts_at": datetime.combine(tuesday, start, tzinfo=zone),
                    "ends_at": datetime.combine(tuesday, end, tzinfo=zone),
                    "capacity": 20,
                    "roles": [
                        {"role": r, "count": next(counts), "required_skills": REQUIRED_SKILLS[r]}
                        for r in roles
                    ],
                },
                self.organizer_id,
            )
            self.session_ids.append(session.id)
        for n, ((skills, accessibility, expert), limit) in enumerate(
            zip(VOLUNTEERS, limits, strict=True)
        ):
            volunteer = create_volunteer(
                {
                    "full_name": f"Tình nguyện viên {n + 1}",
                    "email": f"tnv{n + 1}@example.vn",
                    "home_ward": "kim_lien",
                    "skills": skills,
                    "languages": ["vi"],
                    "accessibility_skills": accessibility,
                    "is_expert": expert,
                    "max_sessions_per_week": limit,
                }
            )
            self.volunteer_ids.append(volunteer.id)
        db.session.commit()
        db.session.remove()
        for how, volunteer, session, role in bookings:
            self._book(how, volunteer, session, role)

    # -- helpers ------------------------------------------------------------------------

    def _request(self, name: str, operation, *args) -> bool:
        """One request: commit on success, roll back on a domain error, then end the
        session as teardown_request does. Any other exception fails the example."""
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

    def _session(self, index: int) -> TrainingSession:
        return db.session.get(TrainingSession, self.session_ids[index])

    def _target(self, session: int, role: int, volunteer: int):
        """(session, one of its role names, volunteer) from the drawn indexes."""
        training = self._session(session)
        name = training.roles[role % len(training.roles)].role
        return training, name, db.session.get(Volunteer, self.volunteer_ids[volunteer])

    def _pick(self, data, *where) -> Assignment | None:
        """One of the bookings matching `where`, drawn by Hypothesis; None if there is none."""
        ids = list(
            db.session.scalars(sa.select(Assignment.id).where(*where).order_by(Assignment.id))
        )
        if not ids:
            return None
        return db.session.get(Assignment, data.draw(st.sampled_from(ids), label="assignment"))

    # -- rules --------------------------------------------------------------------------

    @rule(how=st.sampled_from(BOOKINGS), **TARGET)
    def book(self, how, volunteer, session, role):
        """A sign-up, an organizer's assignment or a matcher's proposal."""
        self._book(how, volunteer, session, role)

    def _book(self, how, volunteer, session, role):
        training, role_name, person = self._target(session, role, volunteer)
        if how == "sign_up":
            self._request(how, operations.sign_up, training, role_name, person, None)
        elif how == "assign_volunteer":
            self._request(
                how, operations.assign_volunteer, training, role_name, person, self.organizer_id
            )
        else:
            self._request(how, self._proposal, training, role_name, person)

    def _proposal(self, session: TrainingSession, role_name: str, volunteer: Volunteer):
        """No operation makes proposals yet (the matcher will): write one as
        test_assignments does, after the checks any booking must pass."""
        rules.require_open(session)
        role = rules.role_of(session, role_name)
        counters.lock_roles([role.id])
        counters.lock_volunteers([volunteer.id])
        rules.check_volunteer(volunteer, session, role)
        if not counters.take_seat(role):
            raise Conflict("The role is full.", code="role_full")
        db.session.add(
            Assignment(
                session_id=session.id,
                role_id=role.id,
                volunteer_id=volunteer.id,
                source="matcher",
                status="proposed",
                session_version=session.version,
            )
        )
        db.session.flush()

    @rule(how=st.sampled_from(ANSWERS), data=st.data())
    def answer(self, how, data):
        """Withdraw a seat-holding or a waitlisted booking; decline one an organizer or
        the matcher made, or accept a proposal, whatever its status now (refusals are part
        of the test)."""
        waited_for = sa.select(Assignment.role_id).where(Assignment.status == "waitlisted")
        booking = self._pick(
            data,
            {
                "withdraw": Assignment.status.in_(SEAT_HOLDING),
                "withdraw_ahead": Assignment.status.in_(SEAT_HOLDING)
                & Assignment.role_id.in_(waited_for),
                "leave_waitlist": Assignment.status == "waitlisted",
                "decline": Assignment.source != "self",
                "accept": Assignment.source == "matcher",
            }[how],
        )
        if booking is None:
            return
        operation = (
            getattr(operations, how) if how in ("decline", "accept") else operations.withdraw
        )
        frees = how not in ("leave_waitlist", "accept")  # a seat, so promote_waitlist runs
        role_id = booking.role_id
        if self._request(how, operation, booking) and frees:
            self.promoted_roles = {role_id}

    @rule(
        session=st.integers(0, len(SESSIONS) - 1),
        role=st.integers(0, 2),
        count=st.integers(0, 3),
    )
    def change_count(self, session, role, count):
        """Raise or lower one role's count; every role of the session is listed."""
        training, role, _ = self._target(session, role, 0)
        roles = [
            {
                "role": r.role,
                "count": count if r.role == role else r.count,
                "required_skills": list(r.required_skills),
            }
            for r in training.roles
        ]
        role_ids = {r.id for r in training.roles}
        before = next(r.count for r in training.roles if r.role == role)
        direction = "up" if count > before else "down" if count < before else "same"
        if self._request(f"change_count {direction}", update_session, training, {"roles": roles}):
            # Any change of roles runs _fill_new_seats over every role of the session.
            self.promoted_roles = role_ids if count != before else set()

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def bookings_are_consistent(self):
        """Every check below, after every step, on one fresh read of the database."""
        db.session.expire_all()
        try:
            sessions = {s.id: s for s in db.session.scalars(sa.select(TrainingSession))}
            volunteers = {v.id: v for v in db.session.scalars(sa.select(Volunteer))}
            roles = list(db.session.scalars(sa.select(SessionRole).order_by(SessionRole.id)))
            bookings = list(
                db.session.scalars(
                    sa.select(Assignment).order_by(Assignment.created_at, Assignment.id)
                )
            )
            holding = defaultdict(list)  # volunteer id -> sessions they hold a seat in
            for b in bookings:
                if b.status in SEAT_HOLDING:
                    holding[b.volunteer_id].append(sessions[b.session_id])
            lines = {
                role.id: [b for b in bookings if b.role_id == role.id and b.status == "waitlisted"]
                for role in roles
            }
            self._seats_match_bookings(roles, bookings)
            self._waitlists_are_numbered_in_order(lines)
            self._no_volunteer_is_in_two_places_at_once(holding)
            self._weekly_limits_hold(holding, volunteers)
            self._promotion_follows_the_line(lines, bookings, sessions, volunteers)
            self._free_seats_go_to_the_waitlist(roles, lines, sessions, volunteers)
        finally:
            db.session.remove()

    def _seats_match_bookings(self, roles, bookings):
        """taken counts exactly the confirmed and proposed bookings, and never exceeds
        count."""
        held = Counter(b.role_id for b in bookings if b.status in SEAT_HOLDING)
        for role in roles:
            assert held[role.id] == role.taken <= role.count, (
                f"role {role.id} ({role.role}): {held[role.id]} seat-holding bookings, "
                f"taken={role.taken}, count={role.count}"
            )

    def _waitlists_are_numbered_in_order(self, lines):
        """Each role's waitlist is 1..n with no gap or duplicate, in order of sign-up."""
        for role_id, line in lines.items():
            positions = [b.waitlist_position for b in line]  # in created_at, id order
            assert positions == list(range(1, len(line) + 1)), (
                f"role {role_id}: waitlist positions in sign-up order are {positions}"
            )

    def _no_volunteer_is_in_two_places_at_once(self, holding):
        """Seat-holding bookings of one volunteer never overlap, and sessions in wards
        that are neither the same nor neighbours are at least the travel gap apart."""
        near, gap = neighbor_map(), travel_gap()
        for volunteer_id, held in holding.items():
            for i, first in enumerate(held):
                for second in held[i + 1 :]:
                    neighbours = near.get(first.ward, set()) | {first.ward}
                    needed = timedelta(0) if second.ward in neighbours else gap
                    assert (
                        second.starts_at >= first.ends_at + needed
                        or first.starts_at >= second.ends_at + needed
                    ), (
                        f"volunteer {volunteer_id} holds sessions {first.id} ({first.ward}) "
                        f"and {second.id} ({second.ward})"
                    )

    def _weekly_limits_hold(self, holding, volunteers):
        """No more seat-holding bookings in a week (Monday to Monday, local time) than the
        volunteer's max_sessions_per_week."""
        for volunteer_id, held in holding.items():
            limit = volunteers[volunteer_id].max_sessions_per_week
            for week, count in Counter(_week_bounds(s.starts_at)[0] for s in held).items():
                assert count <= limit, (
                    f"volunteer {volunteer_id} holds {count} sessions in the week of "
                    f"{week:%F}, limit {limit}"
                )

    def _promotion_follows_the_line(self, lines, bookings, sessions, volunteers):
        """Whoever left a waitlist for a seat since the last check passed only people who
        are still waiting with a time conflict: promote_waitlist goes down the line in
        position order and skips those alone."""
        by_id = {b.id: b for b in bookings}
        for role_id, line in self.lines.items():
            for place, booking_id in enumerate(line):
                if by_id[booking_id].status != "confirmed":  # only promotion confirms these
                    continue
                for ahead in (by_id[a] for a in line[:place]):
                    volunteer = volunteers[ahead.volunteer_id]
                    assert (
                        ahead.status != "waitlisted"
                        or time_refusal(volunteer, sessions[ahead.session_id]) is not None
                    ), (
                        f"role {role_id}: booking {booking_id} was promoted past booking "
                        f"{ahead.id}, which has no time conflict"
                    )
        self.lines = {role_id: [b.id for b in line] for role_id, line in lines.items()}

    def _free_seats_go_to_the_waitlist(self, roles, lines, sessions, volunteers):
        """A role with a free seat keeps a waitlist only of people promotion skipped.

        promote_waitlist runs when a seat of that role frees up (withdraw, decline) or is
        added (a higher count), and skips anyone with a time conflict (overlap, travel,
        weekly limit); they keep their place in line. It does not run again when such a
        conflict later goes away (the volunteer leaves the other session): by design the
        seat then waits for the next change to the role, or for whoever signs up first.
        So the plain rule "a free seat and a waitlist only if every waitlisted volunteer
        has a conflict" does not hold. What holds, and is checked: right after a step that
        ran promotion for the role, every waitlisted volunteer of a role with a free seat
        has a conflict; after any other step, only those already waiting behind that free
        seat at the previous check may be without one.
        """
        excused: dict[int, set[int]] = {}
        for role in roles:
            line = lines[role.id]
            if role.taken >= role.count or not line:
                continue
            allowed = set() if role.id in self.promoted_roles else self.excused.get(role.id)
            assert allowed is not None, (
                f"role {role.id} has a free seat and a waitlist, but no step promoted it"
            )
            session = sessions[role.session_id]
            unblocked = {
                b.id for b in line if time_refusal(volunteers[b.volunteer_id], session) is None
            }
            assert unblocked <= allowed, (
                f"role {role.id} has {role.count - role.taken} free seat(s) while bookings "
                f"{sorted(unblocked - allowed)} wait without a time conflict"
            )
            event("free seat, waitlist " + ("waits" if unblocked else "all in conflict"))
            excused[role.id] = {b.id for b in line}
        self.excused = excused
        self.promoted_roles = set()


# About 20 s on SQLite and 40 s on PostgreSQL. Tried against deliberately broken copies of
# the operations, one run nearly always catches a promotion that ignores time conflicts,
# promotes out of order or not at all, a decline that keeps its seat, a missing travel gap
# or an off-by-one weekly limit; a waitlist gap left by a withdrawal about two runs in
# three; a promotion that gives up at the first skipped volunteer about one in three.
TestBookingProperties = pytest.mark.slow(pytest.mark.usefixtures("app")(BookingMachine.TestCase))
TestBookingProperties.settings = settings(
    max_examples=30,
    stateful_step_count=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
