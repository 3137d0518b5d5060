"""The reminder ladder of a booking, and when one-tap links stop working: every time is
configuration (config.py), read here and nowhere else.

    confirmation      at once (booking_confirmed, assigned, waitlist_promoted)
    reminder_7d       REMINDER_WEEK_DAYS before the start, by email only
    reminder_1d       the day before at REMINDER_DAY_BEFORE_AT local, with one-tap
                      confirm / cancel for volunteers
    reminder_2h       REMINDER_SHORT_HOURS before, by Zalo or SMS only
    unconfirmed       UNCONFIRMED_LIST_AT local the evening before: the organizer's list
                      of volunteers who did not confirm
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app

from coordinator.schemas import display_timezone


def _local_time(name: str) -> time:
    return time.fromisoformat(current_app.config[name].strip())


def day_before_at(starts_at: datetime, name: str) -> datetime:
    """The local time configured as `name` on the local day before the session's day."""
    zone = display_timezone()
    day = starts_at.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day, _local_time(name), tzinfo=zone)


def reminder_at(kind: str, starts_at: datetime) -> datetime:
    """When the reminder `kind` of a session starting at `starts_at` goes out."""
    config = current_app.config
    if kind == "reminder_7d":
        return starts_at - timedelta(days=config["REMINDER_WEEK_DAYS"])
    if kind == "reminder_1d":
        return day_before_at(starts_at, "REMINDER_DAY_BEFORE_AT")
    if kind == "reminder_2h":
        return starts_at - timedelta(hours=config["REMINDER_SHORT_HOURS"])
    raise KeyError(kind)


def unconfirmed_list_at(starts_at: datetime) -> datetime:
    return day_before_at(starts_at, "UNCONFIRMED_LIST_AT")


def answer_expires_at(kind: str, answer_by: datetime | None, starts_at: datetime) -> datetime:
    """When a message's one-tap links stop working: a proposal's at its hold deadline
    (`answer_by`), a reminder's at the start. Never after the start."""
    if kind == "proposal" and answer_by is not None:
        return min(answer_by, starts_at)
    return starts_at
