"""/api/v1/squads: creation by organizers, who sees members, membership by organizer or leader."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.events.models import DomainEvent
from coordinator.extensions import db
from coordinator.people.models import User
from coordinator.squads.models import Squad, SquadMember
from tests.api_helpers import assert_error
from tests.conftest import PASSWORD

SQUADS = "/api/v1/squads"


def row_counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Squad, SquadMember, DomainEvent)
    }


def squad_events(event_type: str, squad_id: int) -> list[DomainEvent]:
    return db.session.scalars(
        sa.select(DomainEvent).where(
            DomainEvent.type == event_type,
            DomainEvent.aggregate_type == "squad",
            DomainEvent.aggregate_id == squad_id,
        )
    ).all()


def member_ids(squad_id: int) -> list[int]:
    return sorted(
        db.session.scalars(
            sa.select(SquadMember.volunteer_id).where(SquadMember.squad_id == squad_id)
        )
    )


@pytest.fixture
def volunteer(client, wards, volunteer_payload, auth_headers):
    """A signed-up volunteer: volunteer() -> (id, bearer headers of their login)."""

    def create() -> tuple[int, dict]:
        response = client.post("/api/v1/volunteers", json=volunteer_payload(password=PASSWORD))
        assert response.status_code == 201, response.json
        return response.json["id"], auth_headers(db.session.get(User, response.json["user_id"]))

    return create


@pytest.fixture
def make_squad(client, organizer_headers):
    """Create a squad as an organizer: make_squad(leader_id, member_ids, **fields) -> JSON."""

    def create(leader_id: int, members: list[int] = (), **fields) -> dict:
        body = {"name": "Đội Kim Liên", "home_ward": "kim_lien", **fields}
        body.update(leader_id=leader_id, member_ids=list(members))
        response = client.post(SQUADS, json=body, headers=organizer_headers)
        assert response.status_code == 201, response.json
        return response.json

    return create


@pytest.fixture
def squad(volunteer, make_squad):
    """A squad with a leader and one other member, and a volunteer outside it."""
    (leader, leader_headers), (member, member_headers), (outsider, outsider_headers) = (
        volunteer(),
        volunteer(),
        volunteer(),
    )
    created = make_squad(leader, [member])
    return {
        "id": created["id"],
        "leader": leader,
        "member": member,
        "outsider": outsider,
        "leader_headers": leader_headers,
        "member_headers": member_headers,
        "outsider_headers": outsider_headers,
    }


# Creating


def test_organizer_creates_squad_with_leader_included_in_members(
    client, volunteer, organizer_headers
):
    (leader, _), (helper, _) = volunteer(), volunteer()
    body = {
        "name": "Đội Cát Linh",
        "leader_id": leader,
        "member_ids": [helper],
        "home_ward": "cat_linh",
        "focus_groups": ["residents", "youth_disabilities"],
    }

    response = client.post(SQUADS, json=body, headers=organizer_headers)

    assert response.status_code == 201
    assert response.json["leader_id"] == leader
    assert sorted(response.json["member_ids"]) == sorted([leader, helper])
    assert response.json["member_count"] == 2
    assert response.json["focus_groups"] == ["residents", "youth_disabilities"]
    assert member_ids(response.json["id"]) == sorted([leader, helper])
    assert len(squad_events("squad.created", response.json["id"])) == 1


def test_leader_listed_among_members_is_not_added_twice(make_squad, volunteer):
    (leader, _), (helper, _) = volunteer(), volunteer()

    created = make_squad(leader, [leader, helper, helper])

    assert sorted(created["member_ids"]) == sorted([leader, helper])


def test_volunteer_cannot_create_a_squad(client, volunteer):
    leader, headers = volunteer()
    before = row_counts()

    response = client.post(
        SQUADS,
        json={"name": "Đội riêng", "leader_id": leader, "home_ward": "kim_lien"},
        headers=headers,
    )

    assert_error(response, 403)
    assert row_counts() == before


def test_anonymous_cannot_create_a_squad(client, volunteer):
    leader, _ = volunteer()

    response = client.post(
        SQUADS, json={"name": "Đội", "leader_id": leader, "home_ward": "kim_lien"}
    )

    assert_error(response, 401)
    assert row_counts()["squads"] == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"leader_id": 9999}, "leader_id"),
        ({"member_ids": [9999]}, "member_ids"),
        ({"home_ward": "atlantis"}, "home_ward"),
    ],
)
def test_unknown_references_are_422_and_write_nothing(
    client, volunteer, organizer_headers, overrides, field
):
    leader, _ = volunteer()
    body = {"name": "Đội", "leader_id": leader, "home_ward": "kim_lien", **overrides}
    before = row_counts()

    response = client.post(SQUADS, json=body, headers=organizer_headers)

    assert_error(response, 422, field)
    assert row_counts() == before


def test_duplicate_squad_name_is_409(client, volunteer, make_squad, organizer_headers):
    leader, _ = volunteer()
    make_squad(leader, name="Đội Văn Miếu")
    before = row_counts()

    response = client.post(
        SQUADS,
        json={"name": "Đội Văn Miếu", "leader_id": leader, "home_ward": "cat_linh"},
        headers=organizer_headers,
    )

    assert_error(response, 409, "name")
    assert row_counts() == before


def test_name_taken_by_a_concurrent_request_is_409_not_500(
    client, volunteer, make_squad, organizer_headers, monkeypatch
):
    from coordinator.squads import operations

    leader, _ = volunteer()
    make_squad(leader, name="Đội Hàng Bột")
    # The other request committed after this one's check: only the unique index sees it.
    monkeypatch.setattr(operations, "_require_free_name", lambda *args, **kwargs: None)
    before = row_counts()

    response = client.post(
        SQUADS,
        json={"name": "Đội Hàng Bột", "leader_id": leader, "home_ward": "hang_bot"},
        headers=organizer_headers,
    )

    assert_error(response, 409, "name")
    assert row_counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"leader_id": "1"}, "leader_id"),
        ({"leader_id": 1.5}, "leader_id"),
        ({"leader_id": True}, "leader_id"),
        ({"leader_id": None}, "leader_id"),
        ({"leader_id": 0}, "leader_id"),
        ({"leader_id": 10**20}, "leader_id"),
        ({"member_ids": "1"}, "member_ids"),
        ({"member_ids": [2**31]}, "member_ids"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "Đội\u0000"}, "name"),
        ({"home_ward": ["kim_lien"]}, "home_ward"),
        ({"home_ward": "kim\u0000lien"}, "home_ward"),
        ({"focus_groups": ["pensioners"]}, "focus_groups"),
        ({"focus_groups": "residents"}, "focus_groups"),
        ({"motto": "Cùng nhau"}, "motto"),
    ],
)
def test_wrong_types_and_unknown_fields_are_422_and_write_nothing(
    client, volunteer, organizer_headers, overrides, field
):
    leader, _ = volunteer()
    body = {"name": "Đội", "leader_id": leader, "home_ward": "kim_lien", **overrides}
    before = row_counts()

    response = client.post(SQUADS, json=body, headers=organizer_headers)

    assert_error(response, 422, field)
    assert row_counts() == before


def test_missing_fields_are_422_with_a_message_each(client, wards, organizer_headers):
    body = assert_error(client.post(SQUADS, json={}, headers=organizer_headers), 422)

    assert set(body["messages"]) == {"name", "leader_id", "home_ward"}


def test_malformed_json_is_400_and_non_json_is_415(client, wards, organizer_headers):
    malformed = client.post(
        SQUADS, data='{"name": ', content_type="application/json", headers=organizer_headers
    )
    form = client.post(SQUADS, data={"name": "Đội"}, headers=organizer_headers)

    assert_error(malformed, 400)
    assert_error(form, 415, "content_type")
    assert row_counts()["squads"] == 0


# Reading


def test_anonymous_sees_public_fields_only(client, squad):
    response = client.get(f"{SQUADS}/{squad['id']}")

    assert response.status_code == 200
    assert response.json["name"] == "Đội Kim Liên"
    assert response.json["member_count"] == 2
    assert "leader_id" not in response.json and "member_ids" not in response.json


def test_volunteer_outside_the_squad_sees_public_fields_only(client, squad):
    response = client.get(f"{SQUADS}/{squad['id']}", headers=squad["outsider_headers"])

    assert "leader_id" not in response.json and "member_ids" not in response.json


@pytest.mark.parametrize("who", ["member_headers", "leader_headers"])
def test_members_see_leader_and_members(client, squad, who):
    response = client.get(f"{SQUADS}/{squad['id']}", headers=squad[who])

    assert response.json["leader_id"] == squad["leader"]
    assert sorted(response.json["member_ids"]) == sorted([squad["leader"], squad["member"]])


def test_organizer_sees_leader_and_members(client, squad, organizer_headers):
    response = client.get(f"{SQUADS}/{squad['id']}", headers=organizer_headers)

    assert response.json["leader_id"] == squad["leader"]
    assert len(response.json["member_ids"]) == 2


def test_public_list_hides_leader_and_members(client, squad):
    response = client.get(SQUADS)

    assert response.status_code == 200
    assert [s["id"] for s in response.json] == [squad["id"]]
    assert "leader_id" not in response.json[0] and "member_ids" not in response.json[0]


@pytest.mark.parametrize("squad_id", [9999, 2**31, 10**30])
def test_unknown_squad_is_404(client, wards, squad_id):
    assert_error(client.get(f"{SQUADS}/{squad_id}"), 404)


# Membership


def test_organizer_adds_a_member_and_event_is_written(client, squad, organizer_headers):
    response = client.post(
        f"{SQUADS}/{squad['id']}/members",
        json={"volunteer_id": squad["outsider"]},
        headers=organizer_headers,
    )

    assert response.status_code == 201
    assert squad["outsider"] in response.json["member_ids"]
    assert squad["outsider"] in member_ids(squad["id"])
    (event,) = squad_events("squad.member_added", squad["id"])
    assert event.payload == {"squad_id": squad["id"], "volunteer_id": squad["outsider"]}


def test_squad_leader_adds_a_member(client, squad):
    response = client.post(
        f"{SQUADS}/{squad['id']}/members",
        json={"volunteer_id": squad["outsider"]},
        headers=squad["leader_headers"],
    )

    assert response.status_code == 201
    assert squad["outsider"] in member_ids(squad["id"])


@pytest.mark.parametrize("who", ["member_headers", "outsider_headers"])
def test_volunteer_who_is_not_the_leader_cannot_add_members(client, squad, who):
    before = row_counts()

    response = client.post(
        f"{SQUADS}/{squad['id']}/members",
        json={"volunteer_id": squad["outsider"]},
        headers=squad[who],
    )

    assert_error(response, 403)
    assert row_counts() == before


def test_anonymous_cannot_add_members(client, squad):
    response = client.post(
        f"{SQUADS}/{squad['id']}/members", json={"volunteer_id": squad["outsider"]}
    )

    assert_error(response, 401)
    assert squad["outsider"] not in member_ids(squad["id"])


def test_adding_an_existing_member_is_409(client, squad, organizer_headers):
    before = row_counts()

    response = client.post(
        f"{SQUADS}/{squad['id']}/members",
        json={"volunteer_id": squad["member"]},
        headers=organizer_headers,
    )

    assert_error(response, 409)
    assert row_counts() == before


def test_member_added_by_a_concurrent_request_is_409_not_500(client, squad, organizer_headers):
    # Another connection adds the member after this session loaded the squad's members.
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(SquadMember.__table__).values(
                squad_id=squad["id"], volunteer_id=squad["outsider"], joined_at=utcnow()
            )
        )

    response = client.post(
        f"{SQUADS}/{squad['id']}/members",
        json={"volunteer_id": squad["outsider"]},
        headers=organizer_headers,
    )

    assert_error(response, 409)
    assert member_ids(squad["id"]).count(squad["outsider"]) == 1


@pytest.mark.parametrize(
    "body", [{"volunteer_id": 9999}, {"volunteer_id": "3"}, {"volunteer_id": 10**20}, {}]
)
def test_adding_an_unknown_or_malformed_volunteer_is_422(client, squad, organizer_headers, body):
    before = row_counts()

    response = client.post(f"{SQUADS}/{squad['id']}/members", json=body, headers=organizer_headers)

    assert_error(response, 422, "volunteer_id")
    assert row_counts() == before


def test_adding_to_an_unknown_squad_is_404(client, squad, organizer_headers):
    response = client.post(
        f"{SQUADS}/9999/members",
        json={"volunteer_id": squad["outsider"]},
        headers=organizer_headers,
    )

    assert_error(response, 404)


@pytest.mark.parametrize("who", ["organizer", "leader_headers"])
def test_organizer_or_leader_removes_a_member(client, squad, organizer_headers, who):
    headers = organizer_headers if who == "organizer" else squad[who]

    response = client.delete(f"{SQUADS}/{squad['id']}/members/{squad['member']}", headers=headers)

    assert response.status_code == 200
    assert response.json["member_ids"] == [squad["leader"]]
    assert member_ids(squad["id"]) == [squad["leader"]]
    assert len(squad_events("squad.member_removed", squad["id"])) == 1


def test_member_cannot_remove_another_member(client, squad):
    before = member_ids(squad["id"])

    response = client.delete(
        f"{SQUADS}/{squad['id']}/members/{squad['leader']}", headers=squad["member_headers"]
    )

    assert_error(response, 403)
    assert member_ids(squad["id"]) == before


def test_removing_the_leader_is_409(client, squad, organizer_headers):
    response = client.delete(
        f"{SQUADS}/{squad['id']}/members/{squad['leader']}", headers=organizer_headers
    )

    assert_error(response, 409)
    assert squad["leader"] in member_ids(squad["id"])


@pytest.mark.parametrize("volunteer_key", ["outsider", None])
def test_removing_someone_who_is_not_a_member_is_404(
    client, squad, organizer_headers, volunteer_key
):
    volunteer_id = squad[volunteer_key] if volunteer_key else 10**20
    before = row_counts()

    response = client.delete(
        f"{SQUADS}/{squad['id']}/members/{volunteer_id}", headers=organizer_headers
    )

    assert_error(response, 404)
    assert row_counts() == before
