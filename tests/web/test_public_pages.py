"""Public pages: the session page calendar events link to, and ward pages with links."""

from __future__ import annotations


def test_session_page_shows_the_session_and_subscribe_links(client, make_session):
    session = make_session(title="Dịch vụ công trực tuyến")
    page = client.get(f"/sessions/{session['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Dịch vụ công trực tuyến" in html
    assert 'lang="vi"' in html
    assert "webcal://" in html and "/calendar/wards/kim_lien.ics" in html


def test_ward_page_lists_upcoming_sessions(client, make_session):
    session = make_session(title="An toàn trên mạng")
    page = client.get("/wards/kim_lien")
    assert page.status_code == 200
    assert f"/sessions/{session['id']}" in page.get_data(as_text=True)
    assert client.get("/wards/atlantis").status_code == 404


def test_unknown_session_page_is_404(client, wards):
    assert client.get("/sessions/4242").status_code == 404


def test_squad_page_lists_its_sessions_and_subscribe_links(
    client, make_session, make_volunteer, organizer_headers
):
    session = make_session(title="Buổi của đội")
    leader = make_volunteer(is_expert=True)[0]
    squad = client.post(
        "/api/v1/squads",
        json={
            "name": "Đội Phương Mai",
            "leader_id": leader,
            "member_ids": [],
            "home_ward": "kim_lien",
        },
        headers=organizer_headers,
    )
    assert squad.status_code == 201, squad.json
    booked = client.post(
        f"/api/v1/sessions/{session['id']}/assignments",
        json={"role": "lead", "squad_id": squad.json["id"]},
        headers=organizer_headers,
    )
    assert booked.status_code == 201, booked.json
    page = client.get(f"/squads/{squad.json['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Đội Phương Mai" in html and "Buổi của đội" in html
    assert f"/calendar/squads/{squad.json['id']}.ics" in html and "webcal://" in html
    assert client.get("/squads/424242").status_code == 404


def test_pages_have_a_description_an_icon_and_no_repeated_ids(client, wards):
    import re

    page = client.get("/login").get_data(as_text=True)

    assert '<meta name="description" content="' in page
    assert 'rel="icon"' in page and client.get("/static/favicon.svg").status_code == 200
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert ids and len(ids) == len(set(ids))
    assert 'name="csrf_token"' in page and 'id="csrf_token"' not in page
