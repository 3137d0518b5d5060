"""The empty seats' weights by kind come from the configuration (MATCHING_UNFILLED_*).

One expert from Kim Liên and two sessions at the same hour: a lead seat in Khương Thượng
(a neighbouring ward: +3 points) and a helper seat in Kim Liên. With every seat at 100
the expert takes the nearer helper seat; when an empty lead seat costs more than the
3 points of travel, the lead seat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coordinator.database import utcnow
from coordinator.matching import loader
from coordinator.matching.engine import solver

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def lead_or_helper(make_session, make_volunteer):
    today = utcnow().astimezone(HANOI).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 + 7)  # a Tuesday ahead
    starts = datetime(day.year, day.month, day.day, 18, 30, tzinfo=HANOI)
    times = {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=90)).isoformat(),
        "target_group": "residents",
    }
    lead = make_session(
        ward="khuong_thuong",
        roles=[{"role": "lead", "count": 1, "required_skills": []}],
        **times,
    )
    helper = make_session(
        ward="kim_lien", roles=[{"role": "helper", "count": 1, "required_skills": []}], **times
    )
    expert, _ = make_volunteer(home_ward="kim_lien", is_expert=True)
    return {"lead": lead["id"], "helper": helper["id"], "expert": expert}


def proposed(app) -> set[tuple[int, int]]:
    loaded = loader.load(utcnow(), utcnow() + timedelta(days=31))
    plan = solver.solve(loaded.problem)
    return {(p.session_id, p.volunteer_id) for p in plan.proposals}


def test_with_every_seat_alike_the_nearer_helper_seat_wins(app, lead_or_helper):
    assert loader.weights().unfilled_lead == loader.weights().unfilled == 100

    assert proposed(app) == {(lead_or_helper["helper"], lead_or_helper["expert"])}


def test_a_dearer_empty_lead_seat_is_filled_first(app, lead_or_helper):
    app.config["MATCHING_UNFILLED_LEAD"] = 150

    assert loader.load(utcnow(), utcnow() + timedelta(days=31)).problem.weights.unfilled_lead == 150
    assert proposed(app) == {(lead_or_helper["lead"], lead_or_helper["expert"])}


def test_a_dearer_helper_seat_keeps_the_expert_nearby(app, lead_or_helper):
    app.config["MATCHING_UNFILLED_LEAD"] = 150
    app.config["MATCHING_UNFILLED_HELPER"] = 200

    assert proposed(app) == {(lead_or_helper["helper"], lead_or_helper["expert"])}
