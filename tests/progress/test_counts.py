"""The maintained progress counts (coordinator.progress.counts) give the same figures as
counting the raw rows, at every level, year, filter and scope, with ended units rolled
into their successors; they are used only while fresh, and a change makes them stale at
once (a report then counts raw rows) until the next refresh."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from coordinator.background import get_queue
from coordinator.bookings.models import Registration
from coordinator.extensions import db
from coordinator.people.models import Participant
from coordinator.people.scopes import scope_of, set_scopes
from coordinator.progress import counts, levels, operations
from coordinator.progress.models import PopulationTarget
from coordinator.sessions.models import TrainingSession
from tests.progress.test_figures import hand_computed  # noqa: F401 - fixture
from tests.progress.test_levels import merged, rolled  # noqa: F401 - fixtures

LEVELS = ("ward", "province", "national")


def _same(**kwargs) -> None:
    raw = operations.progress(source="raw", **kwargs)
    kept = operations.progress(source="counts", **kwargs)
    assert kept == raw, kwargs


def _every_report(groups=(None, "residents", "students"), units=(None,), scopes=(None,)):
    for year in (2024, 2025, 2026):
        for level in LEVELS:
            for group in groups:
                for unit in units:
                    if level == "national" and unit:
                        continue
                    for scope in scopes:
                        if level == "national" and scope is not None:
                            continue  # a national report is for national organizers
                        extra = {"scope": scope} if scope is not None else {}
                        _same(year=year, level=level, target_group=group, unit=unit, **extra)


def test_counts_match_a_full_recount_with_former_units_rolled_up(rolled, make_user):  # noqa: F811
    counts.refresh()
    db.session.commit()
    assert counts.fresh()
    hanoi = make_user("organizer")
    set_scopes(hanoi, ["01"], granted_by=None)
    db.session.commit()
    _every_report(units=(None, "01"), scopes=(None, scope_of(hanoi)))
    _same(year=2025, level="ward", unit="00187")


def test_counts_match_a_full_recount_over_years_and_cancellations(hand_computed):  # noqa: F811
    counts.refresh()
    db.session.commit()
    _every_report()


def test_a_change_makes_the_counts_stale_until_the_next_refresh(hand_computed):  # noqa: F811
    counts.refresh()
    db.session.commit()
    before = operations.progress(2025)
    assert counts.fresh()
    session = db.session.scalar(
        sa.select(TrainingSession)
        .where(TrainingSession.status != "cancelled")
        .order_by(TrainingSession.starts_at)
    )
    person = Participant(full_name="Người mới", ward=session.ward, target_group="residents")
    db.session.add(person)
    db.session.flush()
    db.session.add(
        Registration(session_id=session.id, participant_id=person.id, status="registered")
    )
    db.session.commit()
    assert not counts.fresh()
    after = operations.progress(2025)  # auto: the raw rows while stale
    assert after.overall.enrolled == before.overall.enrolled + 1
    assert after == operations.progress(2025, source="raw")
    counts.refresh()
    db.session.commit()
    assert counts.fresh()
    assert operations.progress(2025, source="counts") == after
    # A bulk statement (a cancelled session's registrations end so) counts as a change.
    db.session.execute(
        sa.update(Registration)
        .where(Registration.participant_id == person.id)
        .values(status="cancelled")
    )
    db.session.commit()
    assert not counts.fresh()


def test_a_refresh_runs_again_to_the_same_rows(hand_computed, runner):  # noqa: F811
    result = runner.invoke(args=["refresh-progress-counts"])
    assert result.exit_code == 0, result.output
    first = db.session.execute(sa.select(counts.ProgressCount).order_by("ward", "year")).all()
    counts.refresh()
    db.session.commit()
    again = db.session.execute(sa.select(counts.ProgressCount).order_by("ward", "year")).all()
    assert [tuple(vars(r[0]).items()) for r in first] and len(first) == len(again)


def test_a_change_schedules_one_refresh_on_a_worker(app, hand_computed):  # noqa: F811
    app.config["PROGRESS_COUNTS_REFRESH"] = True
    for name in ("Một", "Hai"):
        db.session.add(Participant(full_name=name, ward="kim_lien", target_group="students"))
        db.session.commit()
    registry = ScheduledJobRegistry(queue=get_queue())
    assert registry.get_job_ids() == ["progress-counts"]


@pytest.mark.parametrize("level", LEVELS)
def test_without_a_refresh_reports_count_raw_rows(hand_computed, level):  # noqa: F811
    db.session.execute(sa.delete(counts.ProgressCountsState))
    db.session.commit()
    assert not counts.fresh()
    assert operations.progress(2025, level=level) == operations.progress(
        2025, level=level, source="raw"
    )


def test_a_sign_up_leaves_the_counts_fresh_a_reschedule_does_not(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()
    _volunteer_id, headers = make_volunteer()
    counts.refresh()
    db.session.commit()
    signed = client.post(
        f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
    )
    assert signed.status_code == 201, signed.json
    assert counts.fresh()  # seats and counters are not what the figures read
    moved = client.patch(
        f"/api/v1/sessions/{session['id']}",
        json={"title": "Buổi học đổi tên"},
        headers=organizer_headers,
    )
    assert moved.status_code == 200, moved.json
    assert counts.fresh()  # a title neither
    later = {
        "starts_at": session["starts_at"].replace("T18", "T19"),
        "ends_at": session["ends_at"].replace("T19", "T20"),
    }
    moved = client.patch(f"/api/v1/sessions/{session['id']}", json=later, headers=organizer_headers)
    assert moved.status_code == 200, moved.json
    assert not counts.fresh()  # when a session starts decides its year


# --- the report rows kept per level (coordinator.progress.levels) ---------------------

PAGES = ((100, 0), (1, 0), (1, 1), (2, 1), (3, 2), (5, 100))


def _same_pages(year: int) -> None:
    """Every page of the kept rows is the page of a full recount, totals included."""
    for level in LEVELS:
        for group in (None, "residents", "students"):
            raw = operations.progress(year, level=level, target_group=group, source="raw")
            for limit, offset in PAGES:
                kept = levels.stored_page(year, level, group, limit, offset)
                assert kept is not None, (year, level, group)
                page, total = kept
                assert total == len(raw.rows)
                assert page == operations.report_page(raw, limit, offset), (level, group, offset)
                assert levels.progress_page(
                    year, level=level, target_group=group, limit=limit, offset=offset
                ) == (page, total)


def test_kept_rows_match_a_full_recount_with_former_units_rolled_up(rolled):  # noqa: F811
    levels.refresh()
    db.session.commit()
    for year in (2025, operations.current_year()):
        _same_pages(year)


def test_kept_rows_match_a_full_recount_over_years_and_cancellations(hand_computed):  # noqa: F811
    levels.refresh()
    db.session.commit()
    _same_pages(2025)


def test_kept_rows_are_not_used_after_a_change_of_targets_or_people(hand_computed):  # noqa: F811
    levels.refresh()
    db.session.commit()
    assert levels.stored_page(2025, "national", None, 10, 0) is not None
    target = db.session.scalar(sa.select(PopulationTarget).where(PopulationTarget.year == 2025))
    target.baseline += 1000
    db.session.commit()
    assert levels.stored_page(2025, "national", None, 10, 0) is None
    page, _total = levels.progress_page(2025, level="national", limit=10, offset=0)
    raw = operations.progress(2025, level="national", source="raw")
    assert page == operations.report_page(raw, 10, 0)
    levels.refresh()
    db.session.commit()
    assert levels.progress_page(2025, level="national", limit=10, offset=0)[0] == page
    # A year outside those kept, a scope or a unit: computed, never from the rows.
    assert levels.stored_page(1999, "ward", None, 10, 0) is None
    db.session.add(Participant(full_name="Người mới", ward="kim_lien", target_group="students"))
    db.session.commit()
    assert levels.stored_page(2025, "ward", None, 10, 0) is None


def test_a_page_read_again_costs_one_statement_until_the_rows_are_rewritten(
    hand_computed,  # noqa: F811
):
    """A process keeps the pages it read from the kept rows while the rows stay the same
    (the state row names their version): the same page again is the state's read only,
    and a change of targets then a refresh (within the same second, too) gives the new
    figures, never the page kept before."""
    levels.refresh()
    db.session.commit()
    first = levels.stored_page(2025, "national", None, 10, 0)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        again = levels.stored_page(2025, "national", None, 10, 0)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert again == first and len(seen) == 1
    target = db.session.scalar(sa.select(PopulationTarget).where(PopulationTarget.year == 2025))
    target.baseline += 1000
    db.session.commit()
    levels.refresh()
    db.session.commit()
    after = levels.stored_page(2025, "national", None, 10, 0)
    raw = operations.progress(2025, level="national", source="raw")
    assert after == (operations.report_page(raw, 10, 0), len(raw.rows))
    assert after != first


def test_the_api_pages_the_kept_rows(client, hand_computed, organizer_headers):  # noqa: F811
    levels.refresh()
    db.session.commit()
    raw = operations.progress(2025, source="raw")
    reply = client.get("/api/v1/progress?year=2025&limit=1&offset=1", headers=organizer_headers)
    assert reply.status_code == 200, reply.json
    assert reply.headers["X-Total-Count"] == str(len(raw.rows))
    assert [row["target_group"] for row in reply.json["rows"]] == [raw.rows[1].target_group]
