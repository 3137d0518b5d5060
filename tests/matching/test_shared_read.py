"""The parts of a run share one read of their volunteers (through Redis), and a part
still plans them as committed when it loads: a volunteer changed since the shared read
(their free time, their squads) sends the part back to the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.matching import loader, operations
from coordinator.matching.models import MatchingRun
from coordinator.squads.models import Squad, SquadMember
from tests.matching.test_runs import EVENING, proposals, session_at, tuesday_evening, work
from tests.notifications.notification_helpers import free_port


@pytest.fixture
def reads(monkeypatch) -> list[frozenset[str]]:
    """The pools whose volunteers were read from the database, one entry per read."""
    done: list[frozenset[str]] = []
    read = loader._volunteers_document

    def counted(pool, booked):
        if pool:
            done.append(pool)
        return read(pool, booked)

    monkeypatch.setattr(loader, "_volunteers_document", counted)
    return done


@pytest.fixture
def three_weeks(app, client, organizer_headers, make_session, make_volunteer):
    """A run of three weeks split into three week parts (not executed yet), and its
    volunteers: an expert and two helpers free on Tuesday evenings."""
    app.config.update(
        MATCHING_PARTITION_MIN_SESSIONS=2, MATCHING_PART_SESSIONS=1, MATCHING_WEEK_PARTS=0
    )
    people = [make_volunteer(is_expert=True, availability=EVENING)[0]]
    people += [make_volunteer(availability=EVENING)[0] for _ in range(2)]
    starts = tuesday_evening(1)
    sessions = [session_at(make_session, starts + timedelta(days=7 * w)) for w in range(3)]
    window = {
        "from": (starts - timedelta(days=1)).isoformat(),
        "to": (starts + timedelta(days=20)).isoformat(),
    }
    run_id = client.post("/api/v1/matching/runs", json=window, headers=organizer_headers).json["id"]
    return {"run": run_id, "people": people, "sessions": [s["id"] for s in sessions]}


def _parts(run_id: int) -> list[int]:
    operations.execute(run_id)  # splits the run
    db.session.commit()
    parts = sa.select(MatchingRun.id).where(MatchingRun.parent_id == run_id)
    return list(db.session.scalars(parts.order_by(MatchingRun.id)))


def _execute(part_id: int) -> None:
    operations.execute(part_id)
    db.session.commit()


def test_a_runs_parts_read_their_volunteers_once(three_weeks, reads, redis_client):
    work(redis_client)  # the run, then its three parts, each a job

    db.session.rollback()
    run = db.session.get(MatchingRun, three_weeks["run"])
    assert (run.status, run.filled, len(run.stats["parts"])) == ("finished", 9, 3)
    assert {v for _, _, v in proposals()} == set(three_weeks["people"])
    # The sessions' publishing queued an automatic run of the month as well: two runs
    # split in three parts each, one read each (the first part's; the others took it).
    split = db.session.scalars(
        sa.select(MatchingRun.parent_id).where(MatchingRun.parent_id.is_not(None))
    ).all()
    assert len(split) == 6 and len(set(split)) == 2
    assert len(reads) == 2


def test_a_volunteer_changed_since_the_shared_read_is_read_again(
    client, organizer_headers, three_weeks, reads, redis_client
):
    first, second, third = _parts(three_weeks["run"])
    _execute(first)
    assert len(reads) == 1
    # No longer free on Tuesdays: the next part must not propose them from the copy.
    helper = three_weeks["people"][2]
    changed = client.patch(
        f"/api/v1/volunteers/{helper}", json={"availability": []}, headers=organizer_headers
    )
    assert changed.status_code == 200, changed.json
    _execute(second)
    assert len(reads) == 2
    # The first week keeps its proposal (planned before the change); the second does not.
    assert helper not in {v for s, _, v in proposals() if s == three_weeks["sessions"][1]}

    # A squad joined changes no version, but what the engine sees of them.
    squad = Squad(name="Tổ 1", leader_id=three_weeks["people"][0], home_ward="kim_lien")
    db.session.add(squad)
    db.session.flush()
    db.session.add(SquadMember(squad_id=squad.id, volunteer_id=three_weeks["people"][0]))
    db.session.commit()
    _execute(third)
    assert len(reads) == 3
    db.session.rollback()
    assert db.session.get(MatchingRun, three_weeks["run"]).status == "finished"


def test_parts_read_for_themselves_when_redis_is_away(app, three_weeks, reads, monkeypatch):
    parts = _parts(three_weeks["run"])
    gone = redis.Redis(port=free_port(), socket_connect_timeout=1)
    monkeypatch.setitem(app.extensions, "redis_client", gone)
    for part in parts:
        _execute(part)

    assert len(reads) == 3
    db.session.rollback()
    run = db.session.get(MatchingRun, three_weeks["run"])
    assert (run.status, run.filled) == ("finished", 9)
