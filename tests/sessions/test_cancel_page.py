"""Cancelling a session from its page takes a confirmation step that says how many
volunteers and participants will be told; a missing reason keeps the page as typed."""

from __future__ import annotations

from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from tests.matching.test_runs import EVENING, session_at, tuesday_evening
from tests.page_helpers import log_in, submit, text


def test_the_confirmation_page_counts_who_will_be_told(
    client, make_user, make_session, make_volunteer, organizer_headers
):
    session = session_at(make_session, tuesday_evening())
    for _ in range(2):
        volunteer, headers = make_volunteer(availability=EVENING)
        signed = client.post(
            f"/api/v1/sessions/{session['id']}/signups", json={"role": "helper"}, headers=headers
        )
        assert signed.status_code == 201, signed.json
    for name in ("Đỗ Thị Mai", "Lê Văn An", "Phạm Thu"):
        learner = client.post(
            "/api/v1/participants",
            json={"full_name": name, "ward": "kim_lien", "target_group": "residents"},
            headers=organizer_headers,
        )
        assert learner.status_code == 201, learner.json
        registered = client.post(
            f"/api/v1/sessions/{session['id']}/registrations",
            json={"participant_id": learner.json["id"]},
            headers=organizer_headers,
        )
        assert registered.status_code == 201, registered.json
    log_in(client, make_user("organizer").email)
    path = f"/organize/sessions/{session['id']}/cancel"

    detail = text(client.get(f"/organize/sessions/{session['id']}"))
    assert f'href="{path}"' in detail and f'action="{path}"' not in detail

    page = text(client.get(path))
    assert "2 tình nguyện viên và 3 người học sẽ được báo" in page
    db.session.rollback()
    assert db.session.get(TrainingSession, session["id"]).status == "published"

    refused = submit(client, path, {"reason": "  "})
    assert refused.status_code == 422
    assert "Lỗi:" in text(refused).split("<title>", 1)[1].split("</title>", 1)[0]

    done = submit(client, path, {"reason": "Mưa bão"})
    assert done.status_code == 302
    db.session.rollback()
    stored = db.session.get(TrainingSession, session["id"])
    assert (stored.status, stored.cancel_reason) == ("cancelled", "Mưa bão")
    # Nothing left to cancel: the page sends the organizer back.
    assert client.get(path).status_code == 302
