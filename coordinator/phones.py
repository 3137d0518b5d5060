"""Phone numbers: parsed and checked by `phonenumbers` (Google's libphonenumber data), stored
in E.164 (`+84912345678`). Only Vietnamese mobile numbers are taken: Zalo and the SMS
gateway reach those, and a landline can receive neither."""

from __future__ import annotations

import phonenumbers
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

REGION = "VN"
MESSAGE = _l("Not a Vietnamese mobile number (e.g. 0912 345 678 or +84 912 345 678).")
_MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class PhoneRefused(ValueError):
    """The text is not a Vietnamese mobile number."""


def to_e164(value: str) -> str:
    """The number in E.164, or PhoneRefused (a number without +84 is read as Vietnamese)."""
    try:
        number = phonenumbers.parse(value, REGION)
    except NumberParseException:
        raise PhoneRefused(MESSAGE) from None
    if (
        not phonenumbers.is_valid_number(number)
        or phonenumbers.region_code_for_number(number) != REGION
        or phonenumbers.number_type(number) not in _MOBILE
    ):
        raise PhoneRefused(MESSAGE)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def looks_like_phone(value: str) -> bool:
    """A contact meant as a phone number: no '@' and no letters (an email address or a
    note such as "phụ huynh: …" is kept as typed)."""
    return (
        "@" not in value
        and not any(ch.isalpha() for ch in value)
        and any(ch.isdigit() for ch in value)
    )


def e164_or_none(value: str | None) -> str | None:
    """A stored contact as E.164 when it is a Vietnamese mobile number, else None."""
    if not value or not looks_like_phone(value):
        return None
    try:
        return to_e164(value)
    except PhoneRefused:
        return None


def national_digits(e164: str) -> str:
    """+84912345678 -> 84912345678: the form Zalo's and eSMS's examples use."""
    return e164.lstrip("+")
