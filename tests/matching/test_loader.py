"""What a run reads of its volunteers: on PostgreSQL one JSON document, which must give
the engine exactly what reading them row by row (as on SQLite) gives."""

from __future__ import annotations

import os

import pytest

from coordinator.extensions import db
from coordinator.matching import loader
from coordinator.people.models import Volunteer
from coordinator.squads.models import Squad, SquadMember

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the one-document read is PostgreSQL's",
)


def test_one_document_gives_the_engine_what_rows_give(
    app, make_volunteer, monkeypatch, redis_client
):
    near = make_volunteer(
        availability=[
            {"weekday": 4, "start": "18:00", "end": "24:00"},
            {"weekday": 1, "start": "08:00", "end": "11:00"},
            {"weekday": 5, "start": "00:00", "end": "02:00"},
        ],
        skills=["smartphone_basics", "online_public_services"],
        accessibility_skills=["sign_language"],
        languages=["vi", "en"],
        is_expert=True,
        max_sessions_per_week=4,
    )[0]
    plain = make_volunteer(availability=[])[0]
    away = make_volunteer(home_ward="hang_bot")[0]  # outside the pool: booked only
    gone = make_volunteer()[0]  # no longer active, still booked
    unbooked_away = make_volunteer(home_ward="cat_linh")[0]  # neither: not read
    db.session.get(Volunteer, gone).active = False
    db.session.get(Volunteer, near).preferences = {
        "wards": ["kim_lien"],
        "topics": ["digital_safety"],
        "target_groups": ["elderly"],
    }
    db.session.get(Volunteer, plain).languages = []
    squad = Squad(name="Tổ 1", leader_id=near, home_ward="kim_lien")
    db.session.add(squad)
    db.session.flush()
    db.session.add_all([SquadMember(squad_id=squad.id, volunteer_id=v) for v in (near, away)])
    db.session.commit()

    pool, booked = frozenset({"kim_lien", "van_mieu_quoc_tu_giam"}), {away, gone}
    from_document = loader._volunteers_near(pool, booked)
    # A run's parts: the first reads and keeps them, the next takes the copy.
    shared = [loader._volunteers_near(pool, booked, shared_by=run) for run in (1, 1)]
    monkeypatch.setattr(loader, "arrays", lambda: False)
    from_rows = loader._volunteers_near(pool, booked)
    shared_rows = [loader._volunteers_near(pool, booked, shared_by=run) for run in (2, 2)]

    assert from_document == from_rows == shared[0] == shared[1]
    assert shared_rows == [from_rows, from_rows]
    by_id = {v.id: v for v in from_document}
    assert set(by_id) == {near, plain, away, gone} and unbooked_away not in by_id
    first = by_id[near]
    assert [(w.weekday, w.start, w.end) for w in first.windows] == [
        (1, 480, 660),
        (4, 1080, 1440),
        (5, 0, 120),
    ]
    assert first.spans == ((1440 + 480, 1440 + 660), (4 * 1440 + 1080, 5 * 1440 + 120))
    assert first.squads == {squad.id} and by_id[away].squads == {squad.id}
    assert first.preferred_topics == {"digital_safety"} and first.max_per_week == 4
    assert first.is_expert and first.accessibility == {"sign_language"}
    assert by_id[plain].languages == {"vi"}  # none given: Vietnamese
    # Booked from elsewhere, or no longer active: they keep their bookings, never proposed.
    assert by_id[away].windows == () and by_id[gone].windows == ()
