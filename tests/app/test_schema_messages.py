"""marshmallow's own messages reach an API client in the client's language."""

from __future__ import annotations

import inspect
import re

import marshmallow as ma
import pytest
from flask_babel import force_locale
from marshmallow import fields, validate

from coordinator.schema_messages import TEMPLATES, translated
from coordinator.schemas import Schema


def _as_msgid(template: str) -> str:
    """marshmallow's "{max}" (or "{input!r}") written as a msgid's "%(max)s"."""
    return re.sub(r"\{(\w+)(![rs])?\}", r"%(\1)s", template)


def _marshmallow_templates() -> set[str]:
    """Every message template marshmallow's fields, schemas and validators have (those
    that fill in a kind of value, "Not a valid {obj_type}.", as it fills them)."""
    found: set[str] = set()
    for _name, cls in inspect.getmembers(fields, inspect.isclass):
        for key, message in getattr(cls, "default_error_messages", {}).items():
            if key == "format":  # a dump's complaint about a Python value, never input
                continue
            if "{obj_type}" not in message:
                found.add(message)
                continue
            for kind in ("datetime", "date", "time"):
                for awareness in ("naive", "aware"):
                    if kind != "date" or "{awareness}" not in message:  # a date has no zone
                        found.add(message.format(obj_type=kind, awareness=awareness))
    found.update(ma.Schema._default_error_messages.values())
    for _name, cls in inspect.getmembers(validate, inspect.isclass):
        for attribute in ("default_message", "message_min", "message_max", "message_all"):
            if isinstance(getattr(cls, attribute, None), str) and cls is not validate.Range:
                found.add(getattr(cls, attribute))
        if hasattr(cls, "message_equal"):
            found.add(cls.message_equal)
    for min_inclusive in (True, False):
        for max_inclusive in (True, False):
            ranged = validate.Range(0, 1, min_inclusive=min_inclusive, max_inclusive=max_inclusive)
            found.update((ranged.message_min, ranged.message_max, ranged.message_all))
    return {_as_msgid(t) for t in found if t}


def test_every_message_marshmallow_has_is_in_the_catalogue():
    """A new marshmallow message, or a changed wording, fails here rather than reaching
    a Vietnamese reader in English."""
    missing = sorted(_marshmallow_templates() - set(TEMPLATES))
    assert missing == []


class _Example(Schema):
    name = fields.String(required=True, validate=validate.Length(max=5))
    seats = fields.Integer(validate=validate.Range(1, 8))
    kind = fields.String(validate=validate.OneOf(["a", "b"]))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "vi",
            {
                "name": ["Dài hơn độ dài tối đa 5."],
                "seats": ["Phải từ 1 đến 8."],
                "kind": ["Phải là một trong: a, b."],
                "extra": ["Trường không được hỗ trợ."],
            },
        ),
        (
            "en",
            {
                "name": ["Longer than maximum length 5."],
                "seats": ["Must be greater than or equal to 1 and less than or equal to 8."],
                "kind": ["Must be one of: a, b."],
                "extra": ["Unknown field."],
            },
        ),
    ],
)
def test_a_failed_load_speaks_the_readers_language(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        with pytest.raises(ma.ValidationError) as failed:
            _Example().load({"name": "abcdefg", "seats": 9, "kind": "c", "extra": 1})
    assert failed.value.messages == expected


def test_messages_that_are_not_marshmallows_are_kept(app):
    with app.test_request_context(), force_locale("vi"):
        assert translated({"x": ["Something of ours."]}) == {"x": ["Something of ours."]}
        assert translated({"x": {"0": ["Not a valid integer."]}}) == {
            "x": {"0": ["Không phải số nguyên hợp lệ."]}
        }


@pytest.mark.parametrize(
    ("language", "message", "field_message"),
    [
        ("vi", "Dữ liệu không hợp lệ.", "Trường này là bắt buộc."),
        ("en", "The input is invalid.", "Missing data for required field."),
        (None, "Dữ liệu không hợp lệ.", "Trường này là bắt buộc."),  # Vietnamese by default
    ],
)
def test_an_api_call_missing_a_required_field_is_told_in_its_language(
    client, language, message, field_message
):
    headers = {"Accept-Language": language} if language else {}
    answer = client.post("/api/v1/auth/tokens", json={"password": "x" * 10}, headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["message"] == message
    assert answer.get_json()["messages"] == {"email": [field_message]}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("vi", "Không phải số nguyên hợp lệ."), ("en", "Not a valid integer.")],
)
def test_a_logged_in_client_is_told_in_the_language_it_asks_for(
    client, make_session, make_volunteer, language, expected
):
    """A saved language is "vi" until changed; an API call's Accept-Language wins."""
    session = make_session()
    _volunteer_id, headers = make_volunteer()
    answer = client.post(
        f"/api/v1/sessions/{session['id']}/signups",
        json={"role": "helper", "volunteer_id": "seven"},
        headers={**headers, "Accept-Language": language},
    )
    assert answer.status_code == 422
    assert answer.get_json()["messages"]["volunteer_id"] == [expected]
