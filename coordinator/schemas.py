"""Shared marshmallow pieces: strict base schema, slugs, local datetimes, HH:MM."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

SLUG = validate.Regexp(
    r"^[a-z0-9_]{1,64}$", error="Dùng chữ thường, số và '_' / Use a-z, 0-9 and _."
)
BCP47 = validate.Regexp(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error="Not a BCP 47 language tag.")


def display_timezone() -> ZoneInfo:
    """The zone times are shown in (COORDINATOR_TIMEZONE)."""
    return ZoneInfo(current_app.config["COORDINATOR_TIMEZONE"])


class Schema(ma.Schema):
    """Unknown fields are an error (marshmallow's RAISE), stated here to be explicit."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


def SlugList(**kwargs) -> fields.List:  # noqa: N802 - a field factory reads like a field
    """A list of distinct slugs, at most 50."""
    return fields.List(
        fields.String(validate=SLUG),
        validate=[validate.Length(max=50), _distinct],
        **kwargs,
    )


def LanguageList(**kwargs) -> fields.List:  # noqa: N802 - a field factory reads like a field
    """A list of distinct BCP 47 language tags, at most 10."""
    return fields.List(
        fields.String(validate=BCP47), validate=[validate.Length(max=10), _distinct], **kwargs
    )


def _distinct(values: list) -> None:
    if len(set(values)) != len(values):
        raise ma.ValidationError("Các giá trị bị lặp / Duplicate values.")


class Text(fields.String):
    """A string without NUL characters (PostgreSQL text cannot hold them)."""

    default_error_messages = {"nul": "Không được chứa ký tự NUL / NUL characters are not allowed."}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        result = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in result:
            raise self.make_error("nul")
        return result


class LocalDateTime(fields.DateTime):
    """ISO 8601 in and out. Input without an offset is taken as the display time zone;
    output is in the display time zone with its offset."""

    # Far enough from datetime's limits that zone shifts and weekly repeats cannot overflow.
    MIN_YEAR, MAX_YEAR = 1900, 2999
    default_error_messages = {
        "year_range": f"Năm phải trong khoảng {MIN_YEAR}-{MAX_YEAR} / "
        f"The year must be between {MIN_YEAR} and {MAX_YEAR}."
    }

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not self.MIN_YEAR <= result.year <= self.MAX_YEAR:
            raise self.make_error("year_range")
        if result.tzinfo is None:
            result = result.replace(tzinfo=display_timezone())
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(display_timezone()).isoformat()


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class ClockTime(fields.Field):
    """A wall-clock time "HH:MM", held as minutes after midnight (24:00 allowed as an end)."""

    default_error_messages = {"invalid": "Dùng dạng HH:MM / Use HH:MM."}

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise self.make_error("invalid")
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return f"{value // 60:02d}:{value % 60:02d}"
