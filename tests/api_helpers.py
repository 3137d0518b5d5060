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


# Availability every day around the clock (windows that meet at midnight join): an
# organizer assigns such a volunteer to a session at any hour without an override.
ANY_TIME = [{"weekday": day, "start": "00:00", "end": "24:00"} for day in range(7)]


def available_for(session: dict) -> list[dict]:
    """Weekly availability that holds exactly this session (its JSON), in Hanoi time: an
    organizer assigns the volunteer without an override, and the matcher finds them free
    for no other hour."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    starts = datetime.fromisoformat(session["starts_at"]).astimezone(hanoi)
    ends = datetime.fromisoformat(session["ends_at"]).astimezone(hanoi)
    if ends.date() == starts.date():
        return [{"weekday": starts.weekday(), "start": f"{starts:%H:%M}", "end": f"{ends:%H:%M}"}]
    return [
        {"weekday": starts.weekday(), "start": f"{starts:%H:%M}", "end": "24:00"},
        {"weekday": ends.weekday(), "start": "00:00", "end": f"{ends:%H:%M}"},
    ]
