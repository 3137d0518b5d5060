"""Assertions shared by the API tests."""

from __future__ import annotations


def assert_error(response, status: int, field: str | None = None, *, code: str | None = None):
    """The contract's error shape; with `field`, a message for it; with `code`, that code."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert body["messages"][field], body
    if code is not None:
        assert body["error"] == code, body
    return body
