"""The Nu HTML Checker (vnu.jar from npm `vnu-jar`, run with Java) finds no error on the
pages the journeys visit, fetched as each role sees them. Slow: one JVM start."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator.bookings.models import Assignment
from coordinator.extensions import db
from coordinator.people.models import Volunteer
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import log_in, submit, text
from tests.participants.conftest import start_now

VNU = (
    Path(__file__).resolve().parents[1]
    / "js"
    / "node_modules"
    / "vnu-jar"
    / "build"
    / "dist"
    / "vnu.jar"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not VNU.exists() or shutil.which("java") is None,
        reason="needs Java and tests/js/node_modules/vnu-jar (npm ci --prefix tests/js)",
    ),
]


def validate(pages: dict[str, str], folder: Path) -> list[str]:
    """vnu's errors, as 'page: line: message'."""
    files = []
    for name, html in pages.items():
        path = folder / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    run = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(run.stderr or run.stdout or '{"messages": []}')["messages"]
    return [
        f"{Path(m.get('url', '')).stem}: {m.get('lastLine')}: {m['message']}"
        f" [{m.get('extract', '')[:80]}]"
        for m in messages
        if m.get("type") == "error"
    ]


def test_the_journeys_pages_are_valid_html(
    app, client, make_session, make_volunteer, make_user, organizer_headers, competences, tmp_path
):
    session = session_at(
        make_session,
        tuesday_evening(),
        roles=[{"role": "lead", "count": 1}, {"role": "helper", "count": 2}],
        participant_needs=["low_vision"],
    )
    series = make_session(repeat={"weekly": 2}, title="Chuỗi buổi học")
    lead, lead_headers = make_volunteer(is_expert=True, availability=EVENING)
    helper, helper_headers = make_volunteer(availability=EVENING)
    for headers, role in ((lead_headers, "lead"), (helper_headers, "helper")):
        signed = client.post(
            f"/api/v1/sessions/{session['id']}/signups", json={"role": role}, headers=headers
        )
        assert signed.status_code == 201, signed.json
    learner = client.post(
        "/api/v1/participants",
        json={
            "full_name": "Đỗ Thị Mai",
            "ward": "kim_lien",
            "target_group": "residents",
            "accessibility_needs": ["screen_reader"],
        },
        headers=organizer_headers,
    )
    client.post(
        f"/api/v1/sessions/{session['id']}/registrations",
        json={"participant_id": learner.json["id"]},
        headers=organizer_headers,
    )
    pages: dict[str, str] = {}

    def get(name: str, path: str) -> str:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        pages[name] = text(response)
        return pages[name]

    for name, path in (
        ("home", "/"),
        ("session", f"/sessions/{session['id']}"),
        ("ward", "/wards/kim_lien"),
        ("login", "/login"),
        ("register", "/register"),
        ("forgot", "/forgot-password"),
        ("find-registration", "/registrations/find"),
        ("participant-register", f"/sessions/{session['id']}/register"),
    ):
        get(name, path)
    registered = submit(
        client,
        f"/sessions/{session['id']}/register",
        {
            "full_name": "Đỗ Minh Khôi",
            "ward": "kim_lien",
            "target_group": "students",
            "for_whom": "other",
            "guardian_contact": "0912345678",
            "consent": "y",
        },
    )
    pages["registered"] = text(registered)
    manage = re.search(r'href="(/registrations/[^"/?]+)"', pages["registered"]).group(1)
    get("manage-registration", manage)
    get("manage-registration-cancel", f"{manage}?confirm=cancel")

    log_in(client, db.session.get(Volunteer, helper).email)
    booking = db.session.scalar(sa.select(Assignment.id).where(Assignment.volunteer_id == helper))
    for name, path in (
        ("profile", "/me/profile"),
        ("fits", "/me/fits"),
        ("schedule", "/me/schedule"),
        ("withdraw", f"/me/bookings/{booking}/withdraw"),
        ("password", "/me/password"),
    ):
        get(name, path)
    client.post(
        "/logout",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', pages["password"]).group(
                1
            )
        },
    )

    start_now(session["id"])
    log_in(client, make_user("organizer").email)
    for name, path in (
        ("dashboard", "/organize/"),
        ("session-detail", f"/organize/sessions/{session['id']}"),
        ("cancel", f"/organize/sessions/{session['id']}/cancel"),
        ("cancel-series", f"/organize/sessions/{series['series_session_ids'][0]}/cancel"),
        ("participants", f"/organize/sessions/{session['id']}/participants"),
        ("check-in", f"/checkin/{session['id']}"),
    ):
        get(name, path)
    errors = validate(pages, tmp_path)
    assert not errors, "\n".join(errors)
