"""Two independent parsers read the feeds (issue 5, requirement 9): vobject (PyPI) and
Mozilla's ical.js (npm; the parser inside Thunderbird), run with node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import vobject

from coordinator.extensions import db
from coordinator.sessions.models import TrainingSession
from tests.calendar.feed_helpers import LONG_TITLE, feed_link, run_events, signup

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")
# A developer without Node.js still runs the rest; CI installs it, so there it must run.
needs_node = pytest.mark.skipif(
    NODE is None and not os.environ.get("CI"),
    reason="node is not installed: the ical.js check needs Node.js (CI installs it)",
)


@pytest.fixture
def feeds(client, make_session, make_volunteer, organizer_headers):
    """A public feed with a long Vietnamese title and a cancelled session, and a private
    volunteer feed with a reminder: (public bytes, private bytes, session rows)."""
    long = make_session(title=LONG_TITLE, description="Dòng 1, a; b\\c\nDòng 2")
    cancelled = make_session(title="Buổi bị hủy")
    assert (
        client.post(
            f"/api/v1/sessions/{cancelled['id']}/cancel",
            json={"reason": "Trùng lịch"},
            headers=organizer_headers,
        ).status_code
        == 200
    )
    _, headers = make_volunteer()
    signup(client, long["id"], headers)
    run_events()
    public = client.get("/calendar/wards/kim_lien.ics").data
    private = client.get(feed_link(client, headers)).data
    rows = {s.id: s for s in db.session.query(TrainingSession)}
    return public, private, rows[long["id"]], rows[cancelled["id"]]


def test_vobject_reads_the_feeds(feeds):
    public, private, long, cancelled = feeds
    calendar = vobject.readOne(public.decode())
    assert calendar.method.value == "PUBLISH"
    events = {e.uid.value: e for e in calendar.vevent_list}
    event = events[f"session-{long.id}@localhost"]
    assert event.summary.value == LONG_TITLE
    assert event.description.value.startswith("Dòng 1, a; b\\c\nDòng 2")
    assert event.dtstart.value == long.starts_at
    assert str(event.dtstart.value.tzinfo) and event.dtstart.value.utcoffset() == timedelta(hours=7)
    gone = events[f"session-{cancelled.id}@localhost"]
    assert gone.status.value == "CANCELLED" and gone.summary.value.startswith("ĐÃ HỦY: ")
    assert int(gone.sequence.value) == cancelled.sequence >= 1

    mine = vobject.readOne(private.decode())
    (event,) = mine.vevent_list
    assert event.valarm.trigger.value == -timedelta(minutes=120)


def _ical_js(body: bytes) -> dict:
    assert NODE, "Node.js is required here: .ci/run installs it"
    assert (JS_DIR / "node_modules" / "ical.js").exists(), (
        "ical.js is missing: run `npm ci --prefix tests/js` (scripts/test does)"
    )
    result = subprocess.run(
        [NODE, str(JS_DIR / "parse.mjs")],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


@needs_node
def test_ical_js_reads_the_feeds(feeds):
    public, private, long, cancelled = feeds
    parsed = _ical_js(public)
    assert parsed["method"] == "PUBLISH" and parsed["version"] == "2.0"
    assert parsed["name"] == "Lịch học Phường Kim Liên"
    assert parsed["timezones"] == ["Asia/Ho_Chi_Minh"]
    events = {e["uid"]: e for e in parsed["events"]}
    event = events[f"session-{long.id}@localhost"]
    assert event["summary"] == LONG_TITLE
    assert event["start_tzid"] == "Asia/Ho_Chi_Minh"
    assert event["start_unix"] == int(long.starts_at.timestamp())
    assert event["end_unix"] == int(long.ends_at.timestamp())
    assert event["status"] == "CONFIRMED" and event["alarms"] == 0
    gone = events[f"session-{cancelled.id}@localhost"]
    assert gone["status"] == "CANCELLED" and gone["sequence"] == cancelled.sequence
    assert gone["summary"] == "ĐÃ HỦY: Buổi bị hủy"

    (mine,) = _ical_js(private)["events"]
    assert mine["alarms"] == 1 and mine["uid"] == f"session-{long.id}@localhost"
