"""Shared marshmallow pieces: strict base schema, slugs, local datetimes, HH:MM."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from coordinator.phones import PhoneRefused, looks_like_phone, to_e164
from coordinator.schema_messages import translated
from coordinator.text import MESSAGES, TextRefused, clean_text

# Validators' messages are lazy msgids: a validator is built once, at import, and speaks
# when a load fails, in the reader's language.
SLUG = validate.Regexp(r"^[a-z0-9_]{1,64}$", error=_l("Use a-z, 0-9 and _."))
BCP47 = validate.Regexp(
    r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error=_l("Not a BCP 47 language tag.")
)


def display_timezone() -> ZoneInfo:
    """The zone times are shown in (COORDINATOR_TIMEZONE)."""
    return ZoneInfo(current_app.config["COORDINATOR_TIMEZONE"])


class Schema(ma.Schema):
    """Unknown fields are an error (marshmallow's RAISE), stated here to be explicit.
    A failed load's messages are in the reader's language (marshmallow's own too)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def handle_error(self, error: ma.ValidationError, data, *, many: bool, **kwargs) -> None:
        error.messages = translated(error.messages)


class Forbids(validate.Validator):
    """Refuses a string holding any character of `characters` (the body of a regex class).
    The document states the rule as a `pattern`, since apispec documents a validator's
    `regex`; the check itself is the search below (Python's `$` would let a final newline
    through a `^...$` match)."""

    def __init__(self, characters: str, error: str, *, visible: bool = False) -> None:
        # `visible`: the field needs a character besides white space (text is trimmed,
        # so "  " is as empty as ""); only the document needs saying it, Length checks it.
        middle = f"[^\\s{characters}]" if visible else ""
        self.regex = re.compile(f"^[^{characters}]*{middle}[^{characters}]*$")
        self.error = error
        self._forbidden = re.compile(f"[{characters}]")

    def __call__(self, value: str) -> str:
        if self._forbidden.search(value):
            # As text: marshmallow lists a validator's message by iterating over it.
            raise ma.ValidationError(str(self.error))
        return value


# PostgreSQL text cannot hold NUL; names and short labels need no control characters.
NO_NUL = Forbids(r"\x00", MESSAGES["nul"])
NO_CONTROL_CHARACTERS = Forbids(r"\x00-\x1f\x7f", MESSAGES["control"])
VISIBLE_NO_NUL = Forbids(r"\x00", MESSAGES["nul"], visible=True)
VISIBLE_NO_CONTROL_CHARACTERS = Forbids(r"\x00-\x1f\x7f", MESSAGES["control"], visible=True)


def _distinct_items(kwargs: dict) -> dict:
    """Say in the document what `_distinct` checks (uniqueItems)."""
    return {**kwargs, "metadata": {"uniqueItems": True, **kwargs.get("metadata", {})}}


def SlugList(**kwargs) -> fields.List:  # noqa: N802 - a field factory reads like a field
    """A list of distinct slugs, at most 50."""
    return fields.List(
        fields.String(validate=SLUG),
        validate=[validate.Length(max=50), _distinct],
        **_distinct_items(kwargs),
    )


def LanguageList(**kwargs) -> fields.List:  # noqa: N802 - a field factory reads like a field
    """A list of distinct BCP 47 language tags, at most 10."""
    return fields.List(
        fields.String(validate=BCP47),
        validate=[validate.Length(max=10), _distinct],
        **_distinct_items(kwargs),
    )


def _distinct(values: list) -> None:
    if len(set(values)) != len(values):
        raise ma.ValidationError(_("Duplicate values."))


class Bool(fields.Boolean):
    """A JSON boolean in a body: true or false. marshmallow's Boolean also takes 0, 1,
    "yes" and the like, which `type: boolean` in the document does not allow (and consent
    should be a plain `true`). Query strings keep fields.Boolean ("true" is text there)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Text(fields.String):
    """Text people type, under the one input rule (`coordinator.text.clean_text`, which
    the page forms apply too): NFC, trimmed, lone surrogates replaced, NUL refused;
    `multiline=False` (names, contacts) refuses every control character, tabs and line
    breaks included; multi-line text keeps tabs and line breaks (as LF). The validator
    added below only states the refused characters in the document (`pattern`), unless
    the field has a pattern of its own (a phone number's)."""

    def __init__(self, *, multiline: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline
        if not any(hasattr(v, "regex") for v in self.validators):  # a pattern of its own
            needed = any(
                isinstance(v, validate.Length) and (v.min or 0) >= 1 for v in self.validators
            )
            if multiline:
                self.validators.append(VISIBLE_NO_NUL if needed else NO_NUL)
            else:
                self.validators.append(
                    VISIBLE_NO_CONTROL_CHARACTERS if needed else NO_CONTROL_CHARACTERS
                )

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean_text(text, multiline=self.multiline)
        except TextRefused as refused:
            raise ma.ValidationError(str(refused)) from None


class LocalDateTime(fields.DateTime):
    """ISO 8601 in and out. Input without an offset is taken as the display time zone;
    output is in the display time zone with its offset."""

    # Far enough from datetime's limits that zone shifts and weekly repeats cannot overflow.
    MIN_YEAR, MAX_YEAR = 1900, 2999
    # RFC 3339 with the year range, as the document states it (a pattern on the year
    # alone would make generators of date-times throw most of theirs away).
    PATTERN = (
        "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?"
        "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metadata = {"pattern": self.PATTERN, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not self.MIN_YEAR <= result.year <= self.MAX_YEAR:
            raise ma.ValidationError(
                _(
                    "The year must be between %(min)s and %(max)s.",
                    min=self.MIN_YEAR,
                    max=self.MAX_YEAR,
                )
            )
        if result.tzinfo is None:
            result = result.replace(tzinfo=display_timezone())
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        return local_iso(value)


def local_iso(value: datetime | None) -> str | None:
    """An instant as LocalDateTime writes it: ISO 8601 in the display time zone."""
    if value is None:
        return None
    local = value.astimezone(display_timezone())
    if int(local.utcoffset().total_seconds()) % 60:  # type: ignore[union-attr]
        # A zone's old local mean time (Hanoi's +07:06:30 before 1906) has no RFC 3339
        # spelling: such an instant is shown in UTC instead.
        local = value.astimezone(UTC)
    return local.isoformat()


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class ClockTime(fields.String):
    """A wall-clock time "HH:MM", held as minutes after midnight (24:00 allowed as an end)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metadata = {"pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ma.ValidationError(_("Use HH:MM."))
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return f"{value // 60:02d}:{value % 60:02d}"


class Phone(Text):
    """A Vietnamese mobile number, stored in E.164 (`coordinator.phones`: libphonenumber's
    data decides, not a pattern of ours)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validate", validate.Length(max=40))
        kwargs.setdefault(
            "metadata",
            {"description": "Vietnamese mobile number; stored and returned in E.164 (+84...)"},
        )
        super().__init__(multiline=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return to_e164(text)
        except PhoneRefused as refused:
            raise ma.ValidationError(str(refused)) from None


class Contact(Text):
    """Phone or email: a contact with no '@' and no letters is a phone number and must be a
    Vietnamese mobile number (stored in E.164); anything else is kept as typed."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validate", validate.Length(max=320))
        super().__init__(multiline=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not looks_like_phone(text):
            return text
        try:
            return to_e164(text)
        except PhoneRefused as refused:
            raise ma.ValidationError(str(refused)) from None
