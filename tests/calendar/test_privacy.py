"""Privacy of feeds (issue 5, requirement 7): seed unique markers in every personal
field, then scan every feed there is."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.calendar.tokens import feed_url, rotate_feed_token
from coordinator.extensions import db
from coordinator.geography.models import Ward
from tests.calendar.feed_helpers import feed_link, make_participant, register, run_events, signup

PARTICIPANT_MARKERS = ("MKPNAME7q", "MKPCONTACT7q", "MKPNEED7q")
LEAD = {
    "full_name": "Vũ MKLEADSUR Mklfirst",
    "email": "mkleadmail7q@example.vn",
    "phone": "0999777111",
}
HELPER = {"full_name": "Đỗ MKHELPSUR Hà", "email": "mkhelpmail7q@example.vn", "phone": "0999777222"}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_no_feed_leaks_participants_or_volunteer_contacts(
    client, make_session, make_volunteer, organizer_headers
):
    booked = make_session(title="Buổi có đội")
    public_only = make_session(title="Buổi khác", ward="cat_linh")
    lead_id, lead_headers = make_volunteer(**LEAD, is_expert=True)
    helper_id, helper_headers = make_volunteer(**HELPER)
    squad = client.post(
        "/api/v1/squads",
        json={
            "name": "Đội MKSQUAD",
            "leader_id": lead_id,
            "member_ids": [helper_id],
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    )
    assert squad.status_code == 201, squad.json
    assigned = client.post(
        f"/api/v1/sessions/{booked['id']}/assignments",
        json={"role": "helper", "squad_id": squad.json["id"]},
        headers=organizer_headers,
    )
    assert assigned.status_code == 201, assigned.json
    _, outsider_headers = make_volunteer(full_name="Ngô Văn Mkoutsider")
    signup(client, public_only["id"], outsider_headers)

    participant_feeds = []
    for n, session in enumerate((booked, public_only)):
        name, contact, need = (f"{m}{n}" for m in PARTICIPANT_MARKERS)
        person = make_participant(name, contact, [need])
        register(client, session["id"], person, organizer_headers)
        participant_feeds.append(path_of(feed_url("p", rotate_feed_token(participant_id=person))))
    db.session.commit()
    run_events()

    wards = db.session.scalars(sa.select(Ward.code)).all()
    public = {f"/calendar/wards/{code}.ics" for code in wards}
    public.add(f"/calendar/squads/{squad.json['id']}.ics")
    booked_with_lead = {feed_link(client, h) for h in (lead_headers, helper_headers)}
    outsider = feed_link(client, outsider_headers)
    bodies = {}
    for path in public | booked_with_lead | {outsider, *participant_feeds}:
        response = client.get(path)
        assert response.status_code == 200, path
        bodies[path] = response.data.replace(b"\r\n ", b"").decode()
    assert any("Buổi có đội" in bodies[p] for p in public)  # the scan sees real content

    for path, text in bodies.items():
        for marker in PARTICIPANT_MARKERS:
            assert marker not in text, (path, marker)
        assert "mkhelpmail7q" not in text and "999777222" not in text, path  # not a lead
        assert "MKHELPSUR" not in text, path  # squad-mates show by first name only
        assert "ATTENDEE" not in text, path
    for path in public | {outsider, *participant_feeds}:
        for secret in ("mkleadmail7q", "999777111", "MKLEADSUR", "Mklfirst", "Mkoutsider"):
            assert secret not in bodies[path], (path, secret)
    # The helper's private feed does carry the lead's contact, as intended.
    assert any(
        "mkleadmail7q" in bodies[p] and "+84999777111" in bodies[p] for p in booked_with_lead
    )


def test_public_feeds_select_only_public_columns():
    """What a public query does not select, a public feed cannot show."""
    from coordinator.calendar.queries import PUBLIC_COLUMNS

    names = {column.key for column in PUBLIC_COLUMNS}
    assert names == {
        "id",
        "title",
        "description",
        "venue",
        "starts_at",
        "ends_at",
        "status",
        "cancel_reason",
        "sequence",
        "updated_at",
    }
