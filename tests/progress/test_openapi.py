"""The progress and hours endpoints answer what the OpenAPI document promises."""

from __future__ import annotations

import pytest

from tests.app.test_openapi import SPEC_URL, assert_conforms
from tests.progress.test_figures import hand_computed  # noqa: F401 - the shared fixture

TARGETS = "/api/v1/progress/targets"
CSV = "ward,target_group,year,baseline,target_percent\nkim_lien,residents,2026,100,80\n"


@pytest.mark.usefixtures("hand_computed")
def test_progress_and_hours_conform(client, organizer_headers, make_user, auth_headers):
    spec = client.get(SPEC_URL).json
    volunteer = auth_headers(make_user("volunteer"))
    cases = [
        (
            "/api/v1/progress",
            "get",
            client.get("/api/v1/progress?year=2025", headers=organizer_headers),
            200,
        ),
        ("/api/v1/progress", "get", client.get("/api/v1/progress"), 401),
        ("/api/v1/progress", "get", client.get("/api/v1/progress", headers=volunteer), 403),
        (
            "/api/v1/progress",
            "get",
            client.get("/api/v1/progress?ward=x", headers=organizer_headers),
            422,
        ),
        (
            "/api/v1/hours",
            "get",
            client.get("/api/v1/hours?by=squad", headers=organizer_headers),
            200,
        ),
        ("/api/v1/hours", "get", client.get("/api/v1/hours?by=x", headers=organizer_headers), 422),
    ]
    post = {"content_type": "text/csv", "headers": organizer_headers}
    accepted = client.post(TARGETS, data=CSV, **post)
    status_path = "/api/v1/imports/{import_id}"
    cases += [
        (TARGETS, "post", accepted, 202),
        (TARGETS, "post", client.post(TARGETS, data="ward,year\nx,1\n", **post), 422),
        (TARGETS, "post", client.post(TARGETS, json={}, headers=organizer_headers), 415),
        (
            status_path,
            "get",
            client.get(accepted.json["status_url"], headers=organizer_headers),
            200,
        ),
        (status_path, "get", client.get("/api/v1/imports/999", headers=organizer_headers), 404),
    ]
    for path, method, response, status in cases:
        assert response.status_code == status, (path, response.get_json())
        assert_conforms(spec, path, method, response)
    for path in ("/api/v1/progress.csv", "/api/v1/hours.csv"):
        assert "text/csv" in spec["paths"][path]["get"]["responses"]["200"]["content"]
    body = spec["paths"][TARGETS]["post"]["requestBody"]
    assert "text/csv" in body["content"]
