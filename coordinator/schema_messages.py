"""marshmallow's own messages ("Missing data for required field.", "Not a valid integer.",
"Unknown field.", "Longer than maximum length 200.") in the reader's language.

marshmallow writes them in English, after filling in their values; the base schema
(`coordinator.schemas.Schema.handle_error`) hands every failed load's messages to
`translated`, which finds each one's template below and asks the catalogue for it with
the same values. Our own messages are lazy msgids already and are only made text here.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import LazyString, gettext

from coordinator.web.labels import N_

# marshmallow's templates, written as msgids ({max} as %(max)s). tests/app/
# test_schema_messages.py checks that each template marshmallow has is listed here.
TEMPLATES = (
    # fields
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid UUID."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid integer."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid date."),
    N_("Not a valid time."),
    N_("Not a valid naive time."),
    N_("Not a valid aware time."),
    N_("Not a valid period of time."),
    N_("Not a valid mapping type."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 interface."),
    N_("Must be one of: %(choices)s."),
    # schemas
    N_("Invalid input type."),
    N_("Unknown field."),
    # validators
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be equal to %(other)s."),
    N_("String does not match expected pattern."),
    N_("Invalid input."),
    N_("One or more of the choices you made was not in: %(choices)s."),
    N_("One or more of the choices you made was in: %(values)s."),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(template: str) -> re.Pattern[str]:
    """The template as a regex of the English text marshmallow writes: a value is any text."""
    parts = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+)"
            for index, part in enumerate(parts)
        )
        + r"\Z",
        re.S,
    )


_EXACT = frozenset(t for t in TEMPLATES if "%(" not in t)
# The longest wording first: "Must be greater than %(min)s." would also read "Must be
# greater than or equal to 5 and less than 9." (with min "or equal to 5 and ...").
_PATTERNS = tuple(
    (_pattern(t), t)
    for t in sorted(TEMPLATES, key=lambda t: -len(_PLACEHOLDER.sub("", t)))
    if "%(" in t
)


def translated(message: Any) -> Any:
    """A failed load's messages (nested dicts and lists of them) in the reader's language:
    marshmallow's English ones through the catalogue, lazy msgids made text."""
    if isinstance(message, dict):
        # A field's messages are a list, even when a lazy one was raised alone (marshmallow
        # lists only `str` messages itself).
        return {
            key: translated([value] if isinstance(value, LazyString) else value)
            for key, value in message.items()
        }
    if isinstance(message, list | tuple):
        return [translated(value) for value in message]
    if isinstance(message, LazyString):
        return str(message)
    if not isinstance(message, str):
        return message
    if message in _EXACT:
        return gettext(message)
    for pattern, template in _PATTERNS:
        found = pattern.match(message)
        if found is not None:
            return gettext(template, **found.groupdict())
    return message
