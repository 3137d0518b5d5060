"""Building iCalendar feeds (RFC 5545 / 7986) from plain data, with icalendar 7.

Nothing here touches the database or HTTP: `queries.py` turns rows into these
dataclasses, and the same data always gives the same bytes (no random UID, no DTSTAMP
of "now"), so a feed's content version is a hash of its data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress

from coordinator.text import ical_text

# Bump when the rendering changes, so every ETag changes with it.
FORMAT_VERSION = 3
PRODID = "-//Squads//Lich Binh dan hoc vu so//VI"
REFRESH = timedelta(hours=1)
TTL = "PT1H"  # X-PUBLISHED-TTL as text: a timedelta would serialise as "1:00:00"
# VTIMEZONE covers this range; fixed so the bytes never depend on today's date.
TIMEZONE_FIRST_DATE = date(2020, 1, 1)
TIMEZONE_LAST_DATE = date(2040, 1, 1)


@dataclass(frozen=True)
class FeedWords:
    """The words a feed is written with, in its reader's language (queries.feed_words
    gives them from the catalogue; this module knows no language)."""

    cancelled_prefix: str  # before a cancelled session's title
    cancelled: str  # "Cancelled: %(reason)s"
    role: str  # "Role: %(role)s"
    squad_mates: str  # "Squad-mates: %(names)s"
    lead: str  # "Lead: %(name)s — %(contact)s"
    starting_soon: str  # "Starting soon: %(title)s"
    organizer: str  # the ORGANIZER's common name
    roles: dict[str, str]  # role code -> name


@dataclass(frozen=True)
class Person:
    """A squad-mate in a private volunteer feed; contact only for the session's lead."""

    first_name: str
    role: str
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class FeedEvent:
    """One session as a feed shows it: public data, plus a booking in private feeds."""

    session_id: int
    title: str
    description: str
    venue: str
    ward_name: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    status: str  # published / cancelled / completed
    cancel_reason: str | None
    sequence: int
    changed_at: datetime  # the last change of anything shown (aware, UTC)
    role: str | None = None  # the volunteer's role (private volunteer feed)
    mates: tuple[Person, ...] = ()
    lead: Person | None = None


@dataclass(frozen=True)
class Feed:
    """A whole feed: what it is called and the events it shows."""

    uid: str
    name: str
    description: str
    events: tuple[FeedEvent, ...]
    base_url: str
    timezone: str
    organizer_email: str
    words: FeedWords
    alarm_minutes: int | None = None  # a VALARM this long before each session
    private: bool = False

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    def version(self) -> str:
        """The content version: a SHA-256 of everything the bytes are made from."""
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        text = json.dumps(data, sort_keys=True, default=_json_default, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def last_modified(self) -> datetime | None:
        return max((e.changed_at for e in self.events), default=None)


def _json_default(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(type(value))


def host_of(base_url: str) -> str:
    """The host name of a base URL, without scheme or port (for UIDs and mail)."""
    return urlsplit(base_url).hostname or "localhost"


def first_name(full_name: str | None) -> str:
    """A Vietnamese given name comes last: "Nguyễn Thị Lan" -> "Lan"."""
    parts = (full_name or "").split()
    return parts[-1] if parts else ""


def role_label(words: FeedWords, role: str) -> str:
    return words.roles.get(role, role)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def _summary(words: FeedWords, event: FeedEvent) -> str:
    title = event.title
    if event.role:
        title = f"{title} ({role_label(words, event.role)})"
    return words.cancelled_prefix + title if event.status == "cancelled" else title


def _description(words: FeedWords, event: FeedEvent, url: str) -> str:
    lines = []
    if event.status == "cancelled":
        lines.append((words.cancelled % {"reason": event.cancel_reason or ""}).rstrip())
    if event.description:
        lines.append(event.description)
    if event.role:
        lines.append(words.role % {"role": role_label(words, event.role)})
    if event.mates:
        names = ", ".join(m.first_name for m in event.mates)
        lines.append(words.squad_mates % {"names": names})
    if event.lead:
        contact = " · ".join(x for x in (event.lead.phone, event.lead.email) if x)
        lines.append(words.lead % {"name": event.lead.full_name, "contact": contact})
    lines.append(url)
    return "\n".join(lines)


def _vevent(feed: Feed, event: FeedEvent, zone: ZoneInfo) -> Event:
    # Event(), not Event.new(): new() would add a random UID and a DTSTAMP of "now".
    url = f"{feed.base_url.rstrip('/')}/sessions/{event.session_id}"
    changed = _utc(event.changed_at)
    vevent = Event()
    vevent.add("UID", f"session-{event.session_id}@{feed.host}")
    vevent.add("DTSTAMP", changed)
    vevent.add("LAST-MODIFIED", changed)
    vevent.add("SEQUENCE", event.sequence)
    vevent.add("DTSTART", event.starts_at.astimezone(zone).replace(microsecond=0))
    vevent.add("DTEND", event.ends_at.astimezone(zone).replace(microsecond=0))
    vevent.add("SUMMARY", ical_text(_summary(feed.words, event)))
    vevent.add("LOCATION", ical_text(f"{event.venue}, {event.ward_name}"))
    vevent.add("DESCRIPTION", ical_text(_description(feed.words, event, url)))
    vevent.add("URL", url)
    vevent.add("STATUS", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{feed.organizer_email}")
    organizer.params["CN"] = feed.words.organizer
    vevent.add("ORGANIZER", organizer)
    if feed.alarm_minutes and event.status != "cancelled":
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", ical_text(feed.words.starting_soon % {"title": event.title}))
        alarm.add("TRIGGER", timedelta(minutes=-feed.alarm_minutes))
        vevent.add_component(alarm)
    return vevent


def render(feed: Feed) -> bytes:
    """The feed as iCalendar bytes: CRLF, folded at 75 octets, UTF-8, escaped."""
    # Calendar(), not Calendar.new(): new() would add a random UID.
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.uid = feed.uid
    # TEXT values all (RFC 7986, and the X-WR- names clients read): with a plain str
    # the calendar_name setter writes NAME and X-WR-CALNAME unescaped, and a line break
    # in a session's title then failed every mail carrying the session.
    calendar.add("NAME", ical_text(feed.name))
    calendar.add("X-WR-CALNAME", ical_text(feed.name))
    calendar.add("DESCRIPTION", ical_text(feed.description))
    calendar.add("X-WR-CALDESC", ical_text(feed.description))
    # The refresh_interval setter omits VALUE=DURATION, which RFC 7986 requires; and a
    # timedelta for X-PUBLISHED-TTL serialises as "1:00:00", so both are set by hand.
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", TTL)
    calendar.add("X-WR-TIMEZONE", feed.timezone)
    zone = ZoneInfo(feed.timezone)
    for event in feed.events:
        calendar.add_component(_vevent(feed, event, zone))
    calendar.add_missing_timezones(first_date=TIMEZONE_FIRST_DATE, last_date=TIMEZONE_LAST_DATE)
    return calendar.to_ical()
