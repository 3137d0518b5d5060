"""Matching on RQ: sessions published through the API, a real worker in burst mode,
proposals read back through the API; coalescing, idempotence, repairs and staleness."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
import sqlalchemy as sa
from flask_babel import refresh
from rq import Queue, SimpleWorker
from rq import job as rq_job
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from coordinator.bookings.models import Assignment
from coordinator.database import utcnow
from coordinator.events import dispatch
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.matching import handlers, loader, operations, progress
from coordinator.matching.engine import solver
from coordinator.matching.models import MatchingRun
from coordinator.people.models import Volunteer
from tests.api_helpers import assert_error
from tests.notifications.notification_helpers import free_port
from tests.page_helpers import log_in, submit

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TUESDAY = 1
EVENING = [{"weekday": TUESDAY, "start": "18:00", "end": "21:00"}]


def tuesday_evening(weeks_ahead: int = 1, hour: int = 18, minute: int = 30) -> datetime:
    """A Tuesday at least `weeks_ahead` weeks from now, local time."""
    today = utcnow().astimezone(HANOI).date()
    days = (TUESDAY - today.weekday()) % 7 + 7 * weeks_ahead
    day = today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)


def session_at(make_session, starts: datetime, **overrides) -> dict:
    return make_session(
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(minutes=90)).isoformat(),
        **overrides,
    )


def work(redis_client) -> None:
    """A real RQ worker, in this process, until every queue is empty."""
    SimpleWorker(["default", "matching"], connection=redis_client).work(burst=True)


def proposals() -> set[tuple[int, int, int]]:
    """(session, role, volunteer) of every live matcher proposal, read fresh."""
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Assignment.session_id, Assignment.role_id, Assignment.volunteer_id).where(
            Assignment.source == "matcher", Assignment.status == "proposed"
        )
    )
    return set(rows.all())


@pytest.fixture
def team(make_volunteer):
    """Two experts and three helpers free on Tuesday evenings in Kim Liên; one signs."""
    return {
        "experts": [make_volunteer(is_expert=True, availability=EVENING)[0] for _ in range(2)],
        "helpers": [make_volunteer(availability=EVENING)[0] for _ in range(2)],
        "signer": make_volunteer(availability=EVENING, accessibility_skills=["sign_language"])[0],
    }


def test_only_organizers_start_or_read_runs(client, make_volunteer, organizer_headers):
    _, volunteer_headers = make_volunteer()
    assert_error(client.post("/api/v1/matching/runs", json={}), 401)
    assert_error(client.post("/api/v1/matching/runs", json={}, headers=volunteer_headers), 403)
    created = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    assert created.status_code == 202
    run_id = created.json["id"]
    assert_error(client.get(f"/api/v1/matching/runs/{run_id}", headers=volunteer_headers), 403)
    assert_error(client.get("/api/v1/matching/runs/999999", headers=organizer_headers), 404)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"from": "2027-01-10T00:00:00", "to": "2027-01-01T00:00:00"}, "to"),
        ({"from": "2027-01-01T00:00:00", "to": "2029-01-01T00:00:00"}, "to"),
        ({"from": "next tuesday"}, "from"),
        ({"ward": "atlantis"}, "ward"),
        ({"ward": 12}, "ward"),
    ],
)
def test_bad_run_requests_get_field_errors(client, organizer_headers, wards, body, field):
    response = client.post("/api/v1/matching/runs", json=body, headers=organizer_headers)
    assert_error(response, 422, field)
    assert db.session.scalar(sa.select(sa.func.count(MatchingRun.id))) == 0


def test_a_run_request_needs_no_body_and_the_document_says_so(client, organizer_headers):
    """Found by the fuzz test: the document required a body that the view never needed."""
    response = client.post("/api/v1/matching/runs", headers=organizer_headers)
    assert response.status_code == 202, response.json
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/matching/runs"]["post"]["requestBody"]["required"] is False


def test_an_instant_in_1905_is_shown_with_an_offset_rfc_3339_can_write(client, organizer_headers):
    """Found while stating date-times in the document: Hanoi's local mean time until 1906
    was +07:06:30, which a date-time cannot carry."""
    window = {"from": "1905-01-01T00:00:00Z", "to": "1905-06-01T00:00:00Z"}
    run = client.post("/api/v1/matching/runs", json=window, headers=organizer_headers)
    shown = client.get(f"/api/v1/matching/runs/{run.json['id']}", headers=organizer_headers)
    assert shown.json["from"] == "1905-01-01T00:00:00+00:00"
    assert shown.json["to"] == "1905-06-01T00:00:00+00:00"


@pytest.fixture
def english_organizer(make_user, auth_headers):
    """A national organizer who reads English (a saved choice wins over the browser's)."""
    user = make_user("organizer")
    user.locale = "en"
    db.session.commit()
    return auth_headers(user)


def test_run_on_a_worker_proposes_with_reasons(
    client, organizer_headers, english_organizer, make_session, team, redis_client
):
    session = session_at(make_session, tuesday_evening())
    created = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    assert created.status_code == 202
    assert created.json["status"] == "queued"

    work(redis_client)

    run = client.get(f"/api/v1/matching/runs/{created.json['id']}", headers=organizer_headers)
    assert run.status_code == 200
    body = run.json
    assert body["status"] == "finished"
    assert body["progress"] == {"stage": "done", "fraction": 1.0}
    assert body["filled"] == 3 and body["unfilled"] == 0
    by_role = {}
    for proposal in body["proposals"]:
        assert proposal["session_id"] == session["id"]
        assert proposal["reasons"], proposal
        by_role.setdefault(proposal["role"], []).append(proposal["volunteer_id"])
    assert len(by_role["lead"]) == 1 and by_role["lead"][0] in team["experts"]
    assert len(by_role["helper"]) == 2
    lead_reasons = next(p for p in body["proposals"] if p["role"] == "lead")["reasons"]
    # The API's default language is Vietnamese; one language, never "vi / en".
    assert "cùng phường" in lead_reasons and "rảnh Thứ Ba 18:00-21:00" in lead_reasons
    refresh()  # the tests share one app context: forget the last request's language
    english = client.get(
        f"/api/v1/matching/runs/{created.json['id']}", headers=english_organizer
    ).json
    lead_reasons = next(p for p in english["proposals"] if p["role"] == "lead")["reasons"]
    assert "same ward" in lead_reasons and "free Tuesday 18:00-21:00" in lead_reasons
    assert not any(
        " / " in r for p in body["proposals"] + english["proposals"] for r in p["reasons"]
    )
    # The proposals hold their seats, as the staffing view shows.
    staffing = client.get(f"/api/v1/sessions/{session['id']}/staffing", headers=organizer_headers)
    assert {r["role"]: r["proposed"] for r in staffing.json} == {"lead": 1, "helper": 2}


def test_a_burst_of_published_sessions_makes_one_run(
    client, organizer_headers, make_session, team, redis_client
):
    starts = tuesday_evening(2)
    for week in range(4):
        session_at(make_session, starts + timedelta(days=7 * week), ward="kim_lien")

    work(redis_client)

    db.session.rollback()
    runs = db.session.scalars(sa.select(MatchingRun)).all()
    month_keys = {operations.month_window(starts + timedelta(days=7 * w))[0] for w in range(4)}
    assert len(runs) == len(month_keys)  # one per month window, not one per session
    assert [(r.status, r.kind, r.error) for r in runs] == [("finished", "auto", None)] * len(runs)
    assert sum(r.filled for r in runs) == len(proposals()) > 0


def test_running_again_changes_nothing(client, organizer_headers, make_session, team, redis_client):
    session_at(make_session, tuesday_evening())
    session_at(make_session, tuesday_evening(2))
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    first = proposals()
    assert first

    again = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)

    assert proposals() == first
    retracted = db.session.scalar(
        sa.select(sa.func.count(Assignment.id)).where(Assignment.status == "cancelled")
    )
    assert retracted == 0
    run = db.session.get(MatchingRun, again.json["id"])
    assert run.status == "finished" and run.filled == len(first)
    # Executing a finished run's job twice is a no-op.
    operations.execute(run.id)
    db.session.commit()
    assert proposals() == first


def test_needs_are_covered_or_the_session_is_not_staffed(
    client, organizer_headers, english_organizer, make_session, team, redis_client
):
    needs_signing = session_at(
        make_session,
        tuesday_evening(),
        target_group="youth_disabilities",
        participant_needs=["sign_language"],
    )
    needs_reader = session_at(
        make_session,
        tuesday_evening(2),
        target_group="youth_disabilities",
        participant_needs=["screen_reader"],
    )
    created = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)

    body = client.get(f"/api/v1/matching/runs/{created.json['id']}", headers=english_organizer).json
    staffed = {p["session_id"]: [] for p in body["proposals"]}
    for p in body["proposals"]:
        staffed[p["session_id"]].append(p["volunteer_id"])
    assert team["signer"] in staffed[needs_signing["id"]]
    assert needs_reader["id"] not in staffed  # nobody reads screens: no staffing at all
    reasons = [
        reason
        for u in body["unfilled_detail"]
        if u["session_id"] == needs_reader["id"]
        for reason in u["reasons"]
    ]
    assert "no free volunteer who knows screen readers" in reasons


def test_a_decline_is_repaired_by_its_own_job(
    client, organizer_headers, make_session, make_volunteer, team, redis_client, auth_headers
):
    session = session_at(make_session, tuesday_evening())
    spare = make_volunteer(availability=EVENING, home_ward="phuong_mai")[0]
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    before = proposals()
    helper = next(
        a
        for a in db.session.scalars(
            sa.select(Assignment).where(
                Assignment.status == "proposed", Assignment.session_id == session["id"]
            )
        )
        if a.role.role == "helper"
    )
    from coordinator.people.models import Volunteer

    user = db.session.get(Volunteer, helper.volunteer_id).user
    declined = client.post(
        f"/api/v1/assignments/{helper.id}/decline",
        json={"reason": "Bận việc gia đình"},
        headers=auth_headers(user),
    )
    assert declined.status_code == 200, declined.json
    work(redis_client)

    after = proposals()
    gone = (helper.session_id, helper.role_id, helper.volunteer_id)
    assert gone not in after
    added = after - before
    assert len(added) == 1
    (session_id, role_id, volunteer_id) = added.pop()
    assert (session_id, role_id) == (helper.session_id, helper.role_id)
    assert volunteer_id != helper.volunteer_id
    assert before - after == {gone}  # nobody else's plan changed
    assert volunteer_id in {spare, *team["helpers"], team["signer"], *team["experts"]}


def test_a_confirmed_booking_is_never_overridden(
    client, organizer_headers, make_session, team, redis_client
):
    session = session_at(make_session, tuesday_evening())
    clash = session_at(make_session, tuesday_evening(hour=19, minute=0), ward="phuong_mai")
    expert = team["experts"][0]
    booked = client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "lead", "volunteer_id": expert},
        headers=organizer_headers,
    )
    assert booked.status_code == 201, booked.json
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)

    db.session.rollback()
    confirmed = db.session.get(Assignment, booked.json["assignments"][0]["id"])
    assert confirmed.status == "confirmed"
    planned = proposals()
    assert (session["id"], confirmed.role_id, expert) not in planned  # not proposed twice
    assert all(v != expert for s, _, v in planned if s == clash["id"])  # no double booking


def test_a_session_changed_during_the_run_is_left_alone(
    client, organizer_headers, make_session, team
):
    session = session_at(make_session, tuesday_evening())
    db.session.commit()
    loaded = loader.load(utcnow(), utcnow() + timedelta(days=31))
    plan = solver.solve(loaded.problem)
    assert plan.proposals
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"venue": "Nhà văn hóa tổ dân phố 5", "reason": "Đổi địa điểm"},
        headers=organizer_headers,
    )
    assert moved.status_code == 200, moved.json

    stale, _ = operations.write_plan(plan, loaded, None)
    db.session.commit()

    assert stale == {session["id"]}
    assert proposals() == set()


def test_automatic_runs_wait_on_the_scheduler(app, make_session, team, redis_client):
    app.config["MATCHING_DEBOUNCE_SECONDS"] = 5
    session_at(make_session, tuesday_evening())
    session_at(make_session, tuesday_evening(hour=19))

    work(redis_client)  # the session events run; the matching run waits its turn

    db.session.rollback()
    (run,) = db.session.scalars(sa.select(MatchingRun)).all()
    assert (run.status, run.kind) == ("queued", "auto")
    registry = ScheduledJobRegistry("matching", connection=redis_client)
    assert registry.get_job_ids() == [f"evt-{run.event_id}"]
    due = registry.get_scheduled_time(f"evt-{run.event_id}")
    assert 0 < (due - utcnow()).total_seconds() <= 5


def test_progress_comes_from_the_job_and_runs_are_listed(client, organizer_headers, redis_client):
    created = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    run = db.session.get(MatchingRun, created.json["id"])
    # The request's event hands the run to a job of its own, which has not started yet.
    assert dispatch.process_event(run.event_id) == "processed"
    job = Job.fetch(run.job_id, connection=redis_client)
    assert job.func_name == "jobs.matching.run_matching" and job.origin == "matching"
    job.meta["progress"] = {"stage": "flow", "fraction": 0.7}
    job.save_meta()

    body = client.get(f"/api/v1/matching/runs/{run.id}", headers=organizer_headers).json
    assert body["status"] == "queued"
    assert body["progress"] == {"stage": "flow", "fraction": 0.7}
    listed = client.get("/api/v1/matching/runs", headers=organizer_headers)
    assert [r["id"] for r in listed.json] == [run.id]


def _processed_long_ago(run: MatchingRun) -> None:
    """The run's event was handled (its job enqueued) a while ago."""
    db.session.execute(
        sa.update(DomainEvent)
        .where(DomainEvent.id == run.event_id)
        .values(processed_at=utcnow() - timedelta(minutes=5))
    )
    db.session.commit()


def _fail(job: Job, redis_client, minutes_ago: float, exc_string: str = "down") -> None:
    Queue("matching", connection=redis_client).remove(job)
    job.ended_at = utcnow() - timedelta(minutes=minutes_ago)
    job.set_status(JobStatus.FAILED)
    job.save()
    with redis_client.pipeline() as pipe:
        job._handle_failure(exc_string, pipe)  # as RQ records it: failed registry + Result
        pipe.execute()


def test_runs_an_outage_interrupted_start_again_until_they_finish_or_give_up(
    client, organizer_headers, redis_client
):
    run_id = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers).json["id"]
    run = db.session.get(MatchingRun, run_id)
    assert dispatch.process_event(run.event_id) == "processed"
    assert handlers.restart_interrupted_runs() == 0  # its job is queued: nothing to do
    _processed_long_ago(run)

    redis_client.delete(f"rq:job:{MatchingRun.job_id_for(run_id)}")  # Redis lost it
    Queue("matching", connection=redis_client).empty()
    assert handlers.restart_interrupted_runs() == 1
    job = Job.fetch(MatchingRun.job_id_for(run_id), connection=redis_client)
    assert handlers.restart_interrupted_runs() == 0  # queued again, once

    for restart in range(handlers.RUN_RESTARTS):
        _fail(job, redis_client, minutes_ago=0)
        assert handlers.restart_interrupted_runs() == 0  # just failed: wait first
        _fail(job, redis_client, minutes_ago=60)
        assert handlers.restart_interrupted_runs() == 1, restart
        job = Job.fetch(job.id, connection=redis_client)
        assert job.meta["restarts"] == restart + 1 and job.get_status() == JobStatus.QUEUED

    _fail(job, redis_client, minutes_ago=60)
    assert handlers.restart_interrupted_runs() == 0
    db.session.rollback()
    gave_up = db.session.get(MatchingRun, run_id)
    assert (gave_up.status, gave_up.error) == ("failed", "interrupted 6 times by outages")


def test_a_run_whose_worker_was_lost_starts_again_at_once_then_backs_off(
    client, organizer_headers, redis_client
):
    run_id = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers).json["id"]
    run = db.session.get(MatchingRun, run_id)
    dispatch.process_event(run.event_id)
    _processed_long_ago(run)
    job = Job.fetch(MatchingRun.job_id_for(run_id), connection=redis_client)
    abandoned = "Moved to FailedJobRegistry, due to AbandonedJobError, at now"

    _fail(job, redis_client, minutes_ago=0, exc_string=abandoned)
    assert handlers.restart_interrupted_runs() == 1  # the heartbeat's lapse was the wait
    job = Job.fetch(job.id, connection=redis_client)
    _fail(job, redis_client, minutes_ago=0, exc_string=abandoned)
    assert handlers.restart_interrupted_runs() == 0  # lost again: now it waits
    _fail(job, redis_client, minutes_ago=1, exc_string=abandoned)
    assert handlers.restart_interrupted_runs() == 1


def test_an_interrupted_run_started_again_finishes(client, organizer_headers, redis_client):
    run_id = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers).json["id"]
    run = db.session.get(MatchingRun, run_id)
    dispatch.process_event(run.event_id)
    _processed_long_ago(run)
    job = Job.fetch(MatchingRun.job_id_for(run_id), connection=redis_client)
    _fail(job, redis_client, minutes_ago=60)

    assert handlers.restart_interrupted_runs() == 1
    work(redis_client)
    db.session.rollback()
    assert db.session.get(MatchingRun, run_id).status == "finished"


def test_a_redis_lost_during_the_solve_does_not_fail_the_run(
    client, organizer_headers, make_session, team, redis_client
):
    session_at(make_session, tuesday_evening())
    run_id = client.post("/api/v1/matching/runs", json={}, headers=organizer_headers).json["id"]
    # The run's job, its Redis gone (nothing listens on that port): the engine's progress
    # reports cannot be saved. The run is still solved and written (its row is the truth).
    gone = redis.Redis(port=free_port(), socket_connect_timeout=1)
    job = Job.create("jobs.matching.run_matching", args=(run_id,), connection=gone)
    token = rq_job._current_job.set(job)
    try:
        operations.execute(run_id, progress=progress.report)
    finally:
        rq_job._current_job.reset(token)
    db.session.commit()

    run = db.session.get(MatchingRun, run_id)
    assert (run.status, run.error) == ("finished", None)
    assert run.filled and len(proposals()) == run.filled


def test_the_runs_list_comes_a_page_at_a_time(client, organizer_headers):
    from coordinator.matching.models import MatchingRun

    for _ in range(3):
        db.session.add(MatchingRun(status="finished"))
    db.session.commit()
    everything = client.get("/api/v1/matching/runs", headers=organizer_headers)
    assert everything.headers["X-Total-Count"] == "3" and "Link" not in everything.headers
    ids = [run["id"] for run in everything.json]
    assert ids == sorted(ids, reverse=True)
    first = client.get("/api/v1/matching/runs?limit=2", headers=organizer_headers)
    assert 'rel="next"' in first.headers["Link"]
    second = client.get("/api/v1/matching/runs?limit=2&offset=2", headers=organizer_headers)
    assert [run["id"] for run in first.json + second.json] == ids
    assert client.get("/api/v1/matching/runs?limit=x", headers=organizer_headers).status_code == 422


def test_the_runs_page_comes_a_page_at_a_time(client, make_user):
    from coordinator.matching.models import MatchingRun
    from tests.page_helpers import log_in

    for _ in range(23):
        db.session.add(MatchingRun(status="finished"))
    db.session.commit()
    organizer = make_user("organizer")
    log_in(client, organizer.email)
    first = client.get("/organize/matching")
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert body.count('href="/organize/runs/') == 20 and 'rel="next"' in body
    second = client.get("/organize/matching?offset=20").get_data(as_text=True)
    assert second.count('href="/organize/runs/') == 3 and 'rel="prev"' in second


def test_losing_the_only_signer_leaves_the_session_to_the_re_plan(
    client, organizer_headers, make_session, team, redis_client, auth_headers
):
    """Four helper seats, one signer among the people proposed, nobody else signs: the
    repair cannot cover the need without withdrawing three people, so it withdraws
    nobody and queues the debounced re-plan, which decides for the whole month."""
    session = session_at(
        make_session,
        tuesday_evening(),
        target_group="youth_disabilities",
        participant_needs=["sign_language"],
        roles=[{"role": "helper", "count": 4, "required_skills": []}],
    )
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    before = proposals()
    assert len(before) == 4
    signer = db.session.scalars(
        sa.select(Assignment).where(
            Assignment.session_id == session["id"], Assignment.volunteer_id == team["signer"]
        )
    ).one()
    from coordinator.people.models import Volunteer

    user = db.session.get(Volunteer, team["signer"]).user
    declined = client.post(
        f"/api/v1/assignments/{signer.id}/decline", json={}, headers=auth_headers(user)
    )
    assert declined.status_code == 200, declined.json
    queued = sa.select(sa.func.count()).where(MatchingRun.status == "queued")
    waiting = db.session.scalar(queued)

    assert operations.repair_freed_seat(signer.id) == "0 changes"
    db.session.commit()

    assert proposals() == before - {(session["id"], signer.role_id, team["signer"])}
    assert db.session.scalar(queued) >= max(waiting, 1)


def test_a_proposals_reasons_read_in_the_readers_language_even_after_a_switch(
    client, organizer_headers, make_session, make_volunteer, redis_client
):
    """Stored as codes, worded where they are read: the volunteer's page and API in
    their language of the moment, not the one they had when the run wrote them."""
    lead_id, lead_headers = make_volunteer(is_expert=True, availability=EVENING)
    session_at(make_session, tuesday_evening(), roles=[{"role": "lead", "count": 1}])
    client.post("/api/v1/matching/runs", json={}, headers=organizer_headers)
    work(redis_client)
    (stored,) = db.session.scalars(sa.select(Assignment.reasons)).all()
    assert "distance|0" in stored  # a code, in no language

    def api_reasons(language: str) -> list[str]:
        refresh()
        found = client.get(
            f"/api/v1/volunteers/{lead_id}/assignments",
            headers={**lead_headers, "Accept-Language": language},
        )
        assert found.status_code == 200, found.json
        (proposal,) = found.json
        return proposal["reasons"]

    assert "cùng phường" in api_reasons("vi") and "same ward" in api_reasons("en")
    log_in(client, db.session.get(Volunteer, lead_id).email)
    refresh()
    assert "cùng phường" in client.get("/me/schedule").text
    submit(client, "/language", {"locale": "en", "next": "/"}, form_page="/")
    refresh()
    english = client.get("/me/schedule").text
    assert "same ward" in english and "cùng phường" not in english
