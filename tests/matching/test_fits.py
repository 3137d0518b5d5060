"""Sessions that fit one volunteer: coordinator.matching.operations.sessions_that_fit
(the engine's rules over what one volunteer needs loaded), as the volunteer's page
shows them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.bookings import operations as bookings
from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.matching import operations
from coordinator.people.models import Volunteer
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening, work


@pytest.fixture
def week(make_session):
    """Sessions over four Tuesdays around Kim Liên; one beyond the 60 days ahead."""
    one, two, three = tuesday_evening(1), tuesday_evening(2), tuesday_evening(3)
    return {
        "here": session_at(make_session, one),  # Kim Liên, 18:30-20:00
        "overlapping": session_at(make_session, one.replace(hour=19)),
        "neighbour": session_at(make_session, two, ward="khuong_thuong"),
        "two_away": session_at(make_session, two.replace(minute=45), ward="thinh_quang"),
        "too_far": session_at(make_session, three, ward="lang_thuong"),
        "too_late": session_at(make_session, three.replace(hour=20)),  # ends 21:30
        "helpers_only": session_at(
            make_session,
            three.replace(hour=18, minute=0),
            roles=[{"role": "helper", "count": 1, "required_skills": []}],
        ),
        "beyond": session_at(make_session, tuesday_evening(10)),
    }


def test_sessions_that_fit_follow_the_matchers_rules(
    client, organizer_headers, make_volunteer, make_session, week, redis_client
):
    people = {
        "expert": make_volunteer(is_expert=True, availability=EVENING)[0],
        "helper": make_volunteer(availability=EVENING, home_ward="khuong_thuong")[0],
        "one_a_week": make_volunteer(availability=EVENING, max_sessions_per_week=1)[0],
        "far": make_volunteer(availability=EVENING, home_ward="lang_thuong")[0],
        "no_time": make_volunteer(availability=[])[0],
        "left": make_volunteer(availability=EVENING)[0],
    }
    # A confirmed sign-up fills one volunteer's week.
    signed = db.session.get(TrainingSession, week["here"]["id"])
    bookings.sign_up(signed, "helper", db.session.get(Volunteer, people["one_a_week"]), None)
    db.session.get(Volunteer, people["left"]).active = False
    db.session.commit()
    well_formed(people)

    def shown(name: str) -> list[tuple[int, list[str], int]]:
        return [
            (f["session"].id, [r.role for r in f["roles"]], f["distance"])
            for f in operations.sessions_that_fit(people[name])
        ]

    ids = {key: s["id"] for key, s in week.items()}
    expert = shown("expert")
    by_start = [ids[k] for k in week]  # the fixture's sessions are in order of start
    assert [i for i, _, _ in expert] == sorted((i for i, _, _ in expert), key=by_start.index)
    assert (ids["here"], ["lead", "helper"], 0) in expert
    assert (ids["neighbour"], ["lead", "helper"], 1) in expert
    assert (ids["two_away"], ["lead", "helper"], 2) in expert
    assert (ids["helpers_only"], ["helper"], 0) in expert
    assert not {ids["too_far"], ids["too_late"], ids["beyond"]} & {i for i, _, _ in expert}
    helper = shown("helper")
    assert helper and all(roles == ["helper"] for _, roles, _ in helper)
    one_a_week = {i for i, _, _ in shown("one_a_week")}
    assert ids["neighbour"] in one_a_week
    assert not {ids["here"], ids["overlapping"]} & one_a_week  # booked, then a full week
    # Láng Thượng: Thịnh Quang next door, Khương Thượng two wards away.
    far = {i for i, _, _ in shown("far")}
    assert far == {ids["too_far"], ids["two_away"], ids["neighbour"]}
    assert shown("no_time") == [] and shown("left") == []

    # The matcher's proposals count as bookings too.
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) > 1
    later = session_at(make_session, tuesday_evening(4))  # published after the run
    well_formed(people)
    assert [i for i, _, _ in shown("expert")] == [later["id"]]


def well_formed(people: dict[str, int]) -> None:
    for volunteer_id in people.values():
        for fit in operations.sessions_that_fit(volunteer_id):
            assert set(fit) == {"session", "roles", "distance"}
            assert fit["roles"] and all(r.session_id == fit["session"].id for r in fit["roles"])
