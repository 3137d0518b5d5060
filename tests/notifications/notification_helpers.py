"""Shared pieces of the notification tests: a real SMTP server on loopback (aiosmtpd),
a clock the app and RQ's scheduler both read, and helpers to book and to run workers."""

from __future__ import annotations

import asyncio
import email
import os
import re
import signal
import socket
import threading
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from email import policy
from html import unescape
from zoneinfo import ZoneInfo

import rq.scheduler
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_babel import refresh
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.notifications.models import Notification
from coordinator.people.models import Participant, ParticipantPrivate

QUEUES = ("default", "matching", "notifications")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    """Now, as the app (NOTIFICATION_CLOCK) and RQ's scheduler see it; moved by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> int:
        return int(self.now.timestamp())

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


class SmtpRecorder:
    """An aiosmtpd handler keeping every message it accepted (a 250 reply).

    `kill_next_sender`: on the next DATA, SIGKILL the RQ work-horse that is sending
    (before replying), as if it died mid-send. `hold_next_sender`: on the next DATA, set
    `holding` and keep the sender waiting until `released` is set (then refuse it).
    `refuse`: address -> SMTP reply."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.kill_next_sender = False
        self.killed: list[int] = []
        self.refuse: dict[str, str] = {}
        self.hold_next_sender = False
        self.holding = threading.Event()
        self.released = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.kill_next_sender:
            self.kill_next_sender = False
            horse = work_horse_pid()
            self.killed.append(horse)  # before the kill: the test may look at once
            os.kill(horse, signal.SIGKILL)
            wait_until_dead(horse)
            return "451 4.3.0 The sender went away"
        if self.hold_next_sender:
            self.hold_next_sender = False
            self.holding.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 The sender went away"
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 2.0.0 Accepted"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server() -> tuple[Controller, SmtpRecorder]:
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, recorder


def smtp_server(app):
    """Run an SMTP server for the test and point the app at it (a fixture's body)."""
    controller, recorder = start_smtp_server()
    app.config.update(MAIL_SERVER=controller.hostname, MAIL_PORT=controller.port)
    try:
        yield recorder
    finally:
        controller.stop()


def use_clock(app, monkeypatch) -> Clock:
    """Install a test clock in the app and in RQ's scheduler (a fixture's body)."""
    clock = Clock(utcnow().replace(microsecond=0))
    app.config["NOTIFICATION_CLOCK"] = clock
    monkeypatch.setattr(rq.scheduler, "current_timestamp", clock.timestamp)
    return clock


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from /proc, or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2])


def work_horse_pid() -> int:
    """The RQ work-horse forked by a worker running in this process: a live child that
    leads its own process group (RQ calls setpgrp in the horse)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[1] == me and stat[2] == int(entry) and stat[0] != "Z":
                return int(entry)
    raise AssertionError("no work-horse is running")


def wait_until_dead(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = _proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def work(redis_client, queues=QUEUES) -> None:
    """A real RQ worker (in this process) with its scheduler, until the queues are empty.
    The scheduler first enqueues the jobs due by the test's clock."""
    db.session.remove()  # SQLite: the test's own transaction must not hold the write lock
    SimpleWorker(list(queues), connection=redis_client).work(burst=True, with_scheduler=True)


def scheduled_jobs(redis_client, queue: str = "notifications") -> dict[str, datetime]:
    """Delivery job id -> the time RQ's scheduler will enqueue it."""
    registry = ScheduledJobRegistry(queue, connection=redis_client)
    return {
        job_id: registry.get_scheduled_time(job_id)
        for job_id in registry.get_job_ids()
        if job_id.startswith("ntf-")
    }


def notifications(**filters) -> list[Notification]:
    db.session.expire_all()
    query = sa.select(Notification).order_by(Notification.id)
    for name, value in filters.items():
        query = query.where(getattr(Notification, name) == value)
    rows = db.session.scalars(query).all()
    db.session.commit()  # ends the read; unlike rollback, leaves the rows loaded
    return list(rows)


def sign_up(client, session_id: int, headers: dict, role: str = "helper") -> dict:
    response = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def make_participant(
    name: str, contact: str, needs: list[str], guardian: str | None = None, locale: str = "vi"
) -> int:
    participant = Participant(full_name=name, ward="kim_lien", target_group="residents")
    participant.locale = locale
    participant.private = ParticipantPrivate(
        accessibility_needs=needs, contact=contact, guardian_contact=guardian
    )
    db.session.add(participant)
    db.session.commit()
    return participant.id


def register(client, session_id: int, participant_id: int, headers: dict) -> dict:
    response = client.post(
        f"/api/v1/sessions/{session_id}/registrations",
        json={"participant_id": participant_id},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def session_starting(make_session, start: datetime, **overrides) -> dict:
    """A two-hour session starting at `start`, through the API."""
    return make_session(
        starts_at=start.isoformat(), ends_at=(start + timedelta(hours=2)).isoformat(), **overrides
    )


def calendar_part(message):
    return next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")


def body_text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def visit(client, url: str, *, english: bool = False, post: bool = False):
    """A link's page as a browser in Vietnamese (no preference) or in English sees it. The
    tests' app context outlives requests and Flask-Babel caches the language in it:
    forget it first."""
    refresh()
    headers = {"Accept-Language": "en"} if english else {}
    return (client.post if post else client.get)(url, headers=headers)


# A letter with a diacritic (Vietnamese), and words no Vietnamese sentence holds.
ACCENTED = re.compile(r"[\u00c0-\u1ef9]")
ENGLISH_WORDS = re.compile(r"\b(the|you|your|this|link|session|seat)\b", re.IGNORECASE)


def in_one_language(page, locale: str, *data: str) -> str:
    """The text of a page's <main>, checked to be in `locale` only (no "vi / en", no
    English under a Vietnamese heading, no Vietnamese word in the English page); `data`
    (titles, venues: as entered) is left out of the check."""
    html = page.text
    main = html[html.index("<main") : html.index("</main>")]
    assert 'lang="en"' not in main
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))
    for value in data:
        text = text.replace(value, "")
    assert " / " not in text, text
    if locale == "en":
        assert not ACCENTED.search(text), text
    else:
        assert ACCENTED.search(text) and not ENGLISH_WORDS.search(text), text
    return text


def day_before_at(start: datetime, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` local (Hanoi) on the local day before `start`."""
    day = start.astimezone(HANOI).date() - timedelta(days=1)
    return datetime.combine(day, time_of_day(hour, minute), tzinfo=HANOI)


def subjects(messages) -> list[str]:
    return [m["Subject"].split(":")[0] for m in messages]


def now_utc() -> datetime:
    return utcnow().replace(microsecond=0)
