"""Text in and text out: one rule for what people type (the API's schemas and the page
forms both call `clean_text`), and one function per line-based format text leaves in:
`ical_text` for an iCalendar TEXT value, `header_text` for a mail header.

The input rule, applied before anything is stored:

- a lone surrogate (only a JSON escape such as "\\ud83d" can carry one: half of an emoji
  cut by a UTF-16 slice) becomes U+FFFD, as a broken UTF-8 byte does in a form post;
  neither UTF-8 nor a database can hold it, and the rest of the text is worth keeping;
- NUL is refused (PostgreSQL text cannot hold it; nothing typed contains one);
- single-line fields (names, contacts, phone numbers) refuse every other control
  character (tabs and line breaks included), as the API always did; a Unicode line or
  paragraph separator (U+0085, U+2028, U+2029) becomes a space;
- multi-line fields (titles, venues, descriptions, reasons) keep tabs and line breaks,
  with CRLF, CR and the Unicode separators turned into LF; other control characters
  become a space;
- then NFC (Vietnamese typed on some keyboards arrives decomposed: "ệ" as e + two
  combining marks; NFC makes both spellings one string, so unique checks and searches
  see one form), and leading and trailing white space is stripped.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from icalendar import vText

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_SEPARATOR = re.compile("\r\n|[\r\x85\u2028\u2029]")
_CONTROL = re.compile("[\x01-\x1f\x7f]")  # NUL is refused on its own, first
_CONTROL_BUT_TAB_AND_LF = re.compile("[\x01-\x08\x0b-\x1f\x7f]")
_HEADER_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")  # \s covers every Unicode line break


MESSAGES = {
    "nul": _l("NUL characters are not allowed."),
    "control": _l("Contains control characters."),
}


class TextRefused(ValueError):
    """A value the input rule refuses; `code` is "nul" or "control" (see MESSAGES)."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


def _no_surrogates(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value)


def clean_text(value: str, *, multiline: bool) -> str:
    """`value` under the input rule (see the module's docstring), or TextRefused."""
    value = _no_surrogates(value)
    if "\x00" in value:
        raise TextRefused("nul")
    if multiline:
        value = _CONTROL_BUT_TAB_AND_LF.sub(" ", _LINE_SEPARATOR.sub("\n", value))
    else:
        if _CONTROL.search(value):
            raise TextRefused("control")
        value = _LINE_SEPARATOR.sub(" ", value)
    return unicodedata.normalize("NFC", value).strip()


def ical_text(value: str) -> vText:
    """An iCalendar TEXT value (RFC 5545 3.3.11) for any string: line breaks as LF, which
    icalendar escapes as `\\n` (with `\\`, `,` and `;`); the control characters TEXT does
    not allow, and lone surrogates UTF-8 cannot encode, replaced. Every TEXT property of
    the feeds and of the mails' attachments goes through here (also NAME, X-WR-CALNAME
    and X-WR-CALDESC, which icalendar would otherwise write unescaped)."""
    value = _LINE_SEPARATOR.sub("\n", _no_surrogates(value))
    return vText(_CONTROL_BUT_TAB_AND_LF.sub(" ", value.replace("\x00", " ")))


def header_text(value: str) -> str:
    """A mail header's text on one line: every run of white space or control characters
    (CR and LF, which the email package refuses in a header, and every other line break
    Python's `splitlines` knows) becomes one space. Folding and RFC 2047 encoding are the
    email package's job (`policy.SMTP`)."""
    return _HEADER_SPACE.sub(" ", _no_surrogates(value)).strip()


# Vietnamese order without ICU (PyICU is not a dependency): the alphabet's letters, with
# ă â đ ê ô ơ ư as letters of their own, and f j w z where Latin puts them; tone marks
# only break ties, in the dictionary order (none, huyền, hỏi, ngã, sắc, nặng).
_VI_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_VI_RANK = {letter: rank for rank, letter in enumerate(_VI_ALPHABET, start=1)}
_VI_LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}  # breve, circumflex, horn
_VI_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def vietnamese_sort_key(value: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A key that sorts Vietnamese text as a dictionary does, whatever the process's
    locale: "Ba Đình" < "Bạch Mai" < "Cầu Giấy" < "Đống Đa" < "Giảng Võ" < "Ô Chợ Dừa"."""
    letters: list[int] = []
    tones: list[int] = []
    for char in unicodedata.normalize("NFD", value.casefold()):
        if char in _VI_TONES:
            tones[-1:] = [_VI_TONES[char]]
        elif char in _VI_LETTER_MARKS and letters and 0 < letters[-1] <= len(_VI_ALPHABET):
            letter = unicodedata.normalize("NFC", _VI_ALPHABET[letters[-1] - 1] + char)
            letters[-1] = _VI_RANK.get(letter, letters[-1])
        elif char.isalnum():
            letters.append(_VI_RANK.get(char, 100 + ord(char)) if char.isalpha() else -ord(char))
            tones.append(0)
        elif char.isspace() and letters and letters[-1] != 0:
            letters.append(0)  # a word ends: "Ba Đình" before "Bac ..."
            tones.append(0)
    return tuple(letters), tuple(tones), value


def vietnamese_name_key(full_name: str) -> tuple:
    """People in the order a Vietnamese list gives them (a class register, a roster): by
    given name, the last word ("Nguyễn Thị Lan" under L), then by the whole name."""
    words = full_name.split()
    return vietnamese_sort_key(words[-1] if words else ""), vietnamese_sort_key(full_name)


def search_key(value: str) -> str:
    """Text as a search compares it: lower-case, without tone or letter marks, đ as d
    ("Nguyễn Văn Đức" -> "nguyen van duc"), so that "nguyen van" finds "Nguyễn Văn"
    and a name typed with its marks finds it too. Stored beside what it keys (e.g.
    `Volunteer.search_name`) and applied to the query, so SQLite and PostgreSQL compare
    the same plain strings with LIKE."""
    decomposed = unicodedata.normalize("NFKD", value.casefold().replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))
