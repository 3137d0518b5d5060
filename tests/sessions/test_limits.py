"""The API and the organizers' page form take a session's limits from one place
(coordinator/sessions/limits.py): each accepts what the other accepts."""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
import pytest
from werkzeug.datastructures import MultiDict

from coordinator.sessions import limits
from coordinator.sessions.forms import SessionForm
from coordinator.sessions.schemas import SessionCreateSchema
from tests.conftest import default_session_start

# (form field, API field, values just inside and just outside each bound)
CASES = [
    ("title", "title", ["x" * limits.TITLE.max, "x" * (limits.TITLE.max + 1), ""]),
    (
        "description",
        "description",
        ["", "x" * limits.DESCRIPTION.max, "x" * (limits.DESCRIPTION.max + 1)],
    ),
    ("venue", "venue", ["v" * limits.VENUE.max, "v" * (limits.VENUE.max + 1), ""]),
    (
        "capacity",
        "capacity",
        [
            limits.CAPACITY.min - 1,
            limits.CAPACITY.min,
            2_000,
            2_001,
            limits.CAPACITY.max,
            limits.CAPACITY.max + 1,
        ],
    ),
    ("weekly_count", "repeat", [0, 1, limits.WEEKLY.max, limits.WEEKLY.max + 1]),
    ("helpers", "roles", [0, 50, 51, limits.ROLE_SEATS.max, limits.ROLE_SEATS.max + 1]),
]
STARTS = default_session_start()


def _form_accepts(app, name: str, value) -> bool:
    data = {
        "title": "Buổi học",
        "venue": "Nhà văn hóa",
        "starts_at": STARTS.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "120",
        "capacity": "25",
        "ward": "kim_lien",
        "competence_area": "1",
        "target_group": "residents",
        "leads": "1",
        "helpers": "2",
        "interpreters": "0",
        "weekly_count": "1",
        name: str(value),
    }
    with app.test_request_context(method="POST", data=data):
        form = SessionForm(formdata=MultiDict(data), meta={"csrf": False})
        form.ward.choices = [("kim_lien", "Kim Liên")]
        form.competence_area.choices = [("1", "1")]
        form.target_group.choices = [("residents", "Người dân")]
        form.venue_accessibility.choices = []
        form.participant_needs.choices = []
        form.validate()
        return not getattr(form, name).errors


def _api_accepts(name: str, value) -> bool:
    body = {
        "title": "Buổi học",
        "competence_area": "1",
        "target_group": "residents",
        "ward": "kim_lien",
        "venue": "Nhà văn hóa",
        "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(hours=2)).isoformat(),
        "capacity": 25,
    }
    if name == "repeat":
        body["repeat"] = {"weekly": value}
    elif name == "roles":
        body["roles"] = [{"role": "helper", "count": value, "required_skills": []}]
    else:
        body[name] = value
    try:
        SessionCreateSchema().load(body)
    except ma.ValidationError as error:
        return name not in error.messages
    return True


@pytest.mark.parametrize(
    ("form_field", "api_field", "value"),
    [(form, api, value) for form, api, values in CASES for value in values],
    ids=lambda v: str(v)[:12] if not isinstance(v, str) or len(v) < 13 else f"{len(v)} chars",
)
def test_the_form_and_the_api_accept_the_same_values(app, form_field, api_field, value):
    assert _form_accepts(app, form_field, value) == _api_accepts(api_field, value)
