"""Sessions that fit me, read with the per-volunteer candidate query
(coordinator.bookings.fits): the same answers as the matcher's own reading
(coordinator.matching.operations.sessions_that_fit) in every case the matcher's tests
set up, before and after a matching run, and a query count that does not grow with the
sessions listed."""

from __future__ import annotations

from coordinator.bookings import fits
from coordinator.bookings import operations as bookings
from coordinator.extensions import db
from coordinator.matching import operations
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from tests.matching.test_fits import week  # noqa: F401 - the fixture
from tests.matching.test_runs import EVENING, session_at, tuesday_evening, work


def _answers(read, volunteer_id: int) -> list[tuple[int, list[int], int]]:
    return [
        (f["session"].id, [r.id for r in f["roles"]], f["distance"]) for f in read(volunteer_id)
    ]


def _same(people: dict[str, int]) -> None:
    for name, volunteer_id in people.items():
        mine = _answers(fits.sessions_that_fit, volunteer_id)
        assert mine == _answers(operations.sessions_that_fit, volunteer_id), name


def test_the_candidate_query_answers_as_the_matcher_does(
    client,
    organizer_headers,
    make_volunteer,
    make_session,
    week,  # noqa: F811 - the fixture imported above
    redis_client,
):
    people = {
        "expert": make_volunteer(is_expert=True, availability=EVENING)[0],
        "helper": make_volunteer(availability=EVENING, home_ward="khuong_thuong")[0],
        "one_a_week": make_volunteer(availability=EVENING, max_sessions_per_week=1)[0],
        "far": make_volunteer(availability=EVENING, home_ward="lang_thuong")[0],
        "no_time": make_volunteer(availability=[])[0],
        "left": make_volunteer(availability=EVENING)[0],
    }
    signed = db.session.get(TrainingSession, week["here"]["id"])
    bookings.sign_up(signed, "helper", db.session.get(Volunteer, people["one_a_week"]), None)
    # A booking two wards away the same evening: travel time between non-neighbours.
    far_session = db.session.get(TrainingSession, week["too_far"]["id"])
    bookings.sign_up(far_session, "helper", db.session.get(Volunteer, people["far"]), None)
    db.session.get(Volunteer, people["left"]).active = False
    db.session.commit()
    assert _answers(fits.sessions_that_fit, people["expert"])  # something to compare
    _same(people)

    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    db.session.rollback()
    session_at(make_session, tuesday_evening(4))
    _same(people)
