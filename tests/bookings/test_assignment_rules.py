"""Organizers' assignments outside the rules: outside the volunteer's availability, over
their weekly limit or without a required skill is a 409 naming the rule, which
`override: true` (or the page's second step) sets aside and the audit trail records; a
clash is never overridable."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from tests.conftest import default_session_start
from tests.page_helpers import csrf_token, log_in, text

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def assign(client, session_id, headers, **body):
    return client.post(f"/api/v1/sessions/{session_id}/assignments", json=body, headers=headers)


def at(make_session, starts: datetime, minutes: int = 120, **overrides) -> dict:
    return make_session(
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(minutes=minutes)).isoformat(),
        **overrides,
    )


def live_bookings() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Assignment.id)).where(Assignment.status == "confirmed")
    )


def created_events() -> list[dict]:
    return [
        e.payload
        for e in db.session.scalars(
            sa.select(DomainEvent)
            .where(DomainEvent.type == "assignment.created")
            .order_by(DomainEvent.id)
        )
    ]


def test_outside_availability_is_a_409_naming_the_rule_and_override_assigns(
    client, make_session, make_volunteer, organizer_headers
):
    tuesday = default_session_start()  # the volunteer is free Tuesdays 18:00-20:00
    morning = at(make_session, tuesday.replace(hour=9))
    volunteer, _ = make_volunteer()

    refused = assign(
        client, morning["id"], organizer_headers, role="helper", volunteer_id=volunteer
    )
    assert refused.status_code == 409
    assert refused.json["error"] == "outside_rules" and refused.json["rules"] == ["availability"]
    assert "availability" in refused.json["message"] and refused.json["messages"]["override"]
    assert live_bookings() == 0 and created_events() == []

    forced = assign(
        client,
        morning["id"],
        organizer_headers,
        role="helper",
        volunteer_id=volunteer,
        override=True,
    )
    assert forced.status_code == 201, forced.json
    [event] = created_events()
    assert event["overridden_rules"] == ["availability"]
    audit = client.get(f"/api/v1/sessions/{morning['id']}/audit", headers=organizer_headers)
    assert audit.json[-1]["payload"]["overridden_rules"] == ["availability"]


def test_inside_the_rules_nothing_is_overridden(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session()  # Tuesday 18:00-20:00
    volunteer, _ = make_volunteer()
    ok = assign(client, session["id"], organizer_headers, role="helper", volunteer_id=volunteer)
    assert ok.status_code == 201, ok.json
    assert "overridden_rules" not in created_events()[0]


def test_windows_that_meet_at_midnight_join(
    client, make_session, make_volunteer, organizer_headers
):
    late = at(make_session, default_session_start().replace(hour=23), minutes=90)  # to 00:30
    joined, _ = make_volunteer(
        availability=[
            {"weekday": 1, "start": "20:00", "end": "24:00"},
            {"weekday": 2, "start": "00:00", "end": "01:00"},
        ]
    )
    until_midnight, _ = make_volunteer(
        availability=[{"weekday": 1, "start": "20:00", "end": "24:00"}]
    )
    body = {"role": "helper"}
    assert (
        assign(client, late["id"], organizer_headers, volunteer_id=joined, **body).status_code
        == 201
    )
    refused = assign(client, late["id"], organizer_headers, volunteer_id=until_midnight, **body)
    assert refused.status_code == 409 and refused.json["rules"] == ["availability"]


def test_over_the_weekly_limit_and_without_a_skill_name_every_rule(
    client, make_session, make_volunteer, organizer_headers
):
    tuesday = default_session_start()
    first = make_session()
    second = at(make_session, tuesday.replace(hour=9))  # same week, outside availability
    volunteer, _ = make_volunteer(max_sessions_per_week=1, skills=[])
    assert (
        assign(
            client, first["id"], organizer_headers, role="helper", volunteer_id=volunteer
        ).status_code
        == 201
    )
    refused = assign(client, second["id"], organizer_headers, role="lead", volunteer_id=volunteer)
    assert refused.status_code == 409
    assert refused.json["rules"] == ["availability", "required_skills", "weekly_limit"]
    assert len(refused.json["messages"]["override"]) == 3  # one sentence per rule
    forced = assign(
        client, second["id"], organizer_headers, role="lead", volunteer_id=volunteer, override=True
    )
    assert forced.status_code == 201, forced.json
    assert created_events()[-1]["overridden_rules"] == [
        "availability",
        "required_skills",
        "weekly_limit",
    ]


def test_a_clash_is_never_overridable(client, make_session, make_volunteer, organizer_headers):
    session = make_session()
    clash = make_session(title="Buổi trùng giờ", ward="cat_linh")
    volunteer, _ = make_volunteer()
    assert (
        assign(
            client, clash["id"], organizer_headers, role="helper", volunteer_id=volunteer
        ).status_code
        == 201
    )
    for override in (False, True):
        refused = assign(
            client,
            session["id"],
            organizer_headers,
            role="helper",
            volunteer_id=volunteer,
            override=override,
        )
        assert refused.status_code == 409 and refused.json["error"] == "time_conflict"
    assert live_bookings() == 1


def test_a_squad_outside_the_rules_names_the_members_and_override_assigns(
    client, make_session, make_volunteer, organizer_headers
):
    morning = at(make_session, default_session_start().replace(hour=9))
    leader, _ = make_volunteer(
        availability=[{"weekday": 1, "start": "08:00", "end": "12:00"}],
        full_name="Lê Văn Sáng",
        is_expert=True,  # takes the lead seat
    )
    member, _ = make_volunteer(full_name="Trần Thị Tối")  # free Tuesday evenings only
    squad = client.post(
        "/api/v1/squads",
        json={
            "name": "Đội Sáng",
            "leader_id": leader,
            "member_ids": [member],
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    ).json["id"]

    refused = assign(client, morning["id"], organizer_headers, squad_id=squad)
    assert refused.status_code == 409 and refused.json["error"] == "outside_rules"
    assert list(refused.json["messages"]["member_ids"]) == [str(member)]
    assert "Trần Thị Tối" in refused.json["message"] and live_bookings() == 0

    forced = assign(client, morning["id"], organizer_headers, squad_id=squad, override=True)
    assert forced.status_code == 201, forced.json
    overridden = {e["volunteer_id"]: e.get("overridden_rules") for e in created_events()}
    assert overridden == {leader: None, member: ["availability"]}


def test_the_page_asks_a_second_time_then_assigns(client, make_session, make_volunteer, make_user):
    morning = at(make_session, default_session_start().replace(hour=9))
    volunteer, _ = make_volunteer()
    log_in(client, make_user("organizer").email)
    detail = f"/organize/sessions/{morning['id']}"
    first = client.post(
        f"{detail}/assign",
        data={
            "csrf_token": csrf_token(client, detail),
            "volunteer_id": volunteer,
            "role": "helper",
        },
    )
    assert first.status_code == 409
    html = text(first)
    assert 'name="override" value="1"' in html and "Vẫn phân công" in html
    assert live_bookings() == 0
    second = client.post(
        f"{detail}/assign",
        data={
            "csrf_token": csrf_token(client, detail),
            "volunteer_id": volunteer,
            "role": "helper",
            "override": "1",
        },
    )
    assert second.status_code == 302
    db.session.rollback()
    assert live_bookings() == 1
    assert created_events()[0]["overridden_rules"] == ["availability"]


@pytest.mark.parametrize("hour", [18, 19])
def test_availability_is_read_in_hanoi_time(
    client, make_session, make_volunteer, organizer_headers, hour
):
    """18:00 and 19:00 Hanoi are 11:00 and 12:00 UTC: still Tuesday evening for the rule."""
    starts = default_session_start().replace(hour=hour).astimezone(ZoneInfo("UTC"))
    session = at(make_session, starts, minutes=60)
    volunteer, _ = make_volunteer()
    response = assign(
        client, session["id"], organizer_headers, role="helper", volunteer_id=volunteer
    )
    assert response.status_code == 201, response.json
    assert starts.astimezone(HANOI).hour == hour


def test_a_volunteers_bookings_come_a_page_at_a_time(
    client, make_session, make_volunteer, organizer_headers
):
    tuesday = default_session_start()
    volunteer, headers = make_volunteer()
    for week in range(3):
        session = at(make_session, tuesday + timedelta(weeks=week))
        made = assign(
            client, session["id"], organizer_headers, role="helper", volunteer_id=volunteer,
            override=True,
        )  # fmt: skip
        assert made.status_code == 201, made.json
    url = f"/api/v1/volunteers/{volunteer}/assignments"
    everything = client.get(url, headers=headers)
    assert everything.status_code == 200 and len(everything.json) == 3
    assert everything.headers["X-Total-Count"] == "3" and "Link" not in everything.headers
    first = client.get(f"{url}?limit=2", headers=organizer_headers)
    assert first.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in first.headers["Link"] and "offset=2" in first.headers["Link"]
    second = client.get(f"{url}?limit=2&offset=2", headers=organizer_headers)
    assert [b["id"] for b in first.json + second.json] == [b["id"] for b in everything.json]
    assert client.get(f"{url}?limit=0", headers=headers).status_code == 422
