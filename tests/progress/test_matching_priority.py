"""Matching gives priority to the wards and groups furthest from their targets.

One helper from Kim Liên, free on Tuesday evenings, and two sessions at the same hour,
one helper seat each: A in Khương Thượng (a neighbouring ward: +3 points) for residents,
whose target is untouched (gap 1.0 -> priority 50); B in Kim Liên for students, whose
target is met (gap 0 -> priority 0). Without priorities the helper goes to B (3 points
cheaper); with them to A (leaving A empty would cost 100 + 50, B only 100).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.matching import loader
from coordinator.matching.engine import solver
from coordinator.progress.targets import import_targets

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TUESDAY = 1


def tuesday_evening(weeks_ahead: int = 1) -> datetime:
    today = utcnow().astimezone(HANOI).date()
    day = today + timedelta(days=(TUESDAY - today.weekday()) % 7 + 7 * weeks_ahead)
    return datetime(day.year, day.month, day.day, 18, 30, tzinfo=HANOI)


@pytest.fixture
def competing(make_session, make_volunteer):
    """Two sessions competing for one helper; targets for the sessions' year."""
    starts = tuesday_evening()
    helper_only = [{"role": "helper", "count": 1, "required_skills": []}]
    times = {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=90)).isoformat(),
    }
    far = make_session(ward="khuong_thuong", target_group="residents", roles=helper_only, **times)
    near = make_session(ward="kim_lien", target_group="students", roles=helper_only, **times)
    helper, _ = make_volunteer(home_ward="kim_lien")
    rows = "".join(
        f"khuong_thuong,residents,{year},200,50,0\n"  # target 100, nothing reached: gap 1.0
        f"kim_lien,students,{year},100,80,80\n"  # target 80, all reached: gap 0
        f"kim_lien,residents,{year},100,100,50\n"  # gap 0.5 (no session here yet)
        for year in (starts.year, starts.year + 1)  # a later session may fall in January
    )
    report = import_targets(
        "ward,target_group,year,baseline,target_percent,reached_before\n" + rows
    )
    assert report.ok, report.errors
    db.session.commit()
    return {"far": far["id"], "near": near["id"], "helper": helper}


def plan_for(app) -> tuple[dict[int, int], set[tuple[int, int]]]:
    loaded = loader.load(utcnow(), utcnow() + timedelta(days=31))
    plan = solver.solve(loaded.problem)
    priorities = {s.id: s.priority for s in loaded.problem.sessions}
    return priorities, {(p.session_id, p.volunteer_id) for p in plan.proposals}


def test_the_session_furthest_from_its_target_is_staffed_first(app, competing):
    priorities, proposed = plan_for(app)

    assert priorities[competing["far"]] == 50  # MATCHING_PRIORITY_WEIGHT × 1.0
    assert priorities[competing["near"]] == 0
    assert proposed == {(competing["far"], competing["helper"])}


def test_without_the_weight_the_nearer_session_wins(app, competing):
    app.config["MATCHING_PRIORITY_WEIGHT"] = 0

    priorities, proposed = plan_for(app)

    assert set(priorities.values()) == {0}
    assert proposed == {(competing["near"], competing["helper"])}


def test_priority_scales_with_the_gap(app, competing, make_session):
    starts = tuesday_evening(weeks_ahead=2)
    half = make_session(
        ward="kim_lien",
        target_group="residents",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=1)).isoformat(),
    )
    app.config["MATCHING_PRIORITY_WEIGHT"] = 30

    priorities, _ = plan_for(app)

    assert priorities[half["id"]] == 15  # 30 × (50 remaining / 100 target)
    assert priorities[competing["far"]] == 30
