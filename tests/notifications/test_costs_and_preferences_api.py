"""Organizers' message costs (API and page) per unit, month and channel, with the budget
and what is left, kept to the caller's units; the caller's message preferences through
the API, under the preferences page's rules."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import refresh

from coordinator.extensions import db
from coordinator.geography.operations import import_wards, parse_wards
from coordinator.notifications import routing
from coordinator.notifications.models import Notification
from coordinator.people.models import Volunteer
from tests.app.test_query_counts import statements
from tests.notifications.notification_helpers import session_starting
from tests.page_helpers import log_in
from tests.scope_helpers import import_second_province, scoped_organizer

URL = "/api/v1/notifications/costs"
PREFS = "/api/v1/me/notification-preferences"


def sent(session_id: int, channel: str, vnd: int, at: datetime, n: int = 1) -> None:
    """Messages as the delivery records them (the channels' own tests send for real)."""
    for _ in range(n):
        row = Notification(
            recipient_kind="volunteer",
            recipient_id=1,
            kind="assigned",
            session_id=session_id,
            dedup_key=f"test:{session_id}:{channel}:{at.isoformat()}:{_}:{vnd}",
            status="sent",
            channel=channel,
            price_vnd=vnd,
            sent_at=at,
        )
        db.session.add(row)
    db.session.commit()


@pytest.fixture
def spending(app, make_session, clock):
    """This month: Kim Liên 2 Zalo + 1 SMS + 1 email, Hàng Bột 1 SMS (both Hanoi, 01),
    Bến Thành 1 SMS (79); last month, 5 Zalo in Kim Liên."""
    import_second_province()
    clock.set(datetime(2026, 12, 10, 3, 0, tzinfo=UTC))
    start = datetime.now(UTC) + timedelta(days=10)
    kim_lien = session_starting(make_session, start, ward="kim_lien")["id"]
    hang_bot = session_starting(make_session, start, ward="hang_bot")["id"]
    ben_thanh = session_starting(make_session, start, ward="ben_thanh")["id"]
    now = clock.now
    sent(kim_lien, "zalo", 300, now, n=2)
    sent(kim_lien, "sms", 800, now)
    sent(kim_lien, "email", 0, now)
    sent(hang_bot, "sms", 800, now)
    sent(ben_thanh, "sms", 800, now)
    sent(kim_lien, "zalo", 300, datetime(2026, 11, 20, tzinfo=UTC), n=5)
    app.config["MESSAGE_BUDGET_VND"] = 2000
    return {"kim_lien": kim_lien}


def channels(unit: dict) -> dict[str, tuple[int, int]]:
    return {c["channel"]: (c["messages"], c["vnd"]) for c in unit["channels"]}


def test_costs_per_province_ward_and_channel_with_the_budget_left(
    client, organizer_headers, spending
):
    response = client.get(URL, query_string={"month": "2026-12"}, headers=organizer_headers)
    assert response.status_code == 200, response.json
    report = response.json
    assert (report["month"], report["budget_vnd"]) == ("2026-12", 2000)
    assert (report["messages"], report["vnd"]) == (6, 3000)
    hanoi, hcmc = report["provinces"]
    assert (hanoi["code"], hcmc["code"]) == ("01", "79")
    assert channels(hanoi) == {"zalo": (2, 600), "sms": (2, 1600), "email": (1, 0)}
    assert (hanoi["spent_vnd"], hanoi["left_vnd"]) == (2200, 0)  # over: email from now on
    assert (hcmc["spent_vnd"], hcmc["left_vnd"]) == (800, 1200)
    wards = {w["code"]: channels(w) for w in hanoi["wards"]}
    assert wards == {
        "kim_lien": {"zalo": (2, 600), "sms": (1, 800), "email": (1, 0)},
        "hang_bot": {"sms": (1, 800)},
    }
    # Last month is its own.
    november = client.get(URL, query_string={"month": "2026-11"}, headers=organizer_headers)
    [only] = november.json["provinces"]
    assert channels(only) == {"zalo": (5, 1500)} and only["left_vnd"] == 500
    # The default month is the clock's; the CLI agrees with the API.
    assert client.get(URL, headers=organizer_headers).json["vnd"] == 3000
    assert sum(vnd for *_, vnd in routing.costs(datetime(2026, 12, 10, tzinfo=UTC))) == 3000


def test_costs_stay_within_the_organizers_units(
    client, make_user, auth_headers, make_volunteer, spending
):
    ward_organizer = auth_headers(scoped_organizer(make_user, "kim_lien"))
    report = client.get(URL, query_string={"month": "2026-12"}, headers=ward_organizer).json
    [hanoi] = report["provinces"]
    assert [w["code"] for w in hanoi["wards"]] == ["kim_lien"]
    assert report["messages"] == 4
    # The budget is the province's: its spending and what is left are the province's.
    assert hanoi["spent_vnd"] == 2200

    province = client.get(URL, query_string={"province": "79"}, headers=ward_organizer)
    assert province.status_code == 403
    assert client.get(URL, query_string={"province": "99"}, headers=ward_organizer).status_code == (
        404
    )
    bad = client.get(URL, query_string={"month": "2026-13"}, headers=ward_organizer)
    assert bad.status_code == 422 and "month" in bad.json["messages"]
    assert client.get(URL).status_code == 401
    _, volunteer = make_volunteer()
    assert client.get(URL, headers=volunteer).status_code == 403

    hcmc = auth_headers(scoped_organizer(make_user, "79"))
    only = client.get(URL, query_string={"month": "2026-12", "province": "79"}, headers=hcmc)
    assert [p["code"] for p in only.json["provinces"]] == ["79"]


def test_the_costs_page_shows_the_same_figures_within_the_units(client, make_user, spending):
    organizer = scoped_organizer(make_user, "kim_lien")
    log_in(client, organizer.email)
    page = client.get("/organize/messages/costs?month=2026-12")
    assert page.status_code == 200
    main = page.text[page.text.index("<main") :]
    assert "Kim Liên" in main and "Hàng Bột" not in main and "Bến Thành" not in main
    assert "2.200" in main or "2,200" in main  # the province's spending
    assert "<title>Chi phí tin nhắn" in page.text
    bad = client.get("/organize/messages/costs?month=12-2026")
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    assert "<title>Lỗi: Chi phí tin nhắn" in bad.text  # the title says so first
    assert client.get("/organize/messages/costs?province=79").status_code == 422


def _province(code: str, ward: str) -> None:
    import_wards(
        parse_wards(
            json.dumps(
                {
                    "province": {
                        "code": code,
                        "slug": f"tinh_{code}",
                        "name": f"Tỉnh {code}",
                        "type": "tinh",
                    },
                    "wards": [{"code": ward, "name": f"Xã {ward}", "type": "xa", "neighbors": []}],
                }
            ),
            f"{code}.json",
        )
    )
    db.session.commit()


def test_the_costs_page_reads_the_provinces_in_one_statement(client, make_user, spending):
    """The province picker costs the same with 34 provinces as with 2."""
    national, scoped = make_user("organizer"), scoped_organizer(make_user, "kim_lien", "79")

    def statements_and_picker(user) -> tuple[int, list[str]]:
        log_in(client, user.email)
        with statements() as seen:
            page = client.get("/organize/messages/costs?month=2026-12")
        assert page.status_code == 200
        return len(seen), re.findall(r'<option value="(\w+)"', page.text)

    before = {"national": statements_and_picker(national), "scoped": statements_and_picker(scoped)}
    for n in range(3):
        _province(f"9{n}", f"xa_9{n}")
    after = {"national": statements_and_picker(national), "scoped": statements_and_picker(scoped)}

    assert after["national"][0] == before["national"][0]
    assert after["scoped"][0] == before["scoped"][0]
    assert "92" in after["national"][1] and "92" not in after["scoped"][1]
    assert {"01", "79"} <= set(after["scoped"][1])


def test_preferences_through_the_api_follow_the_pages_rules(client, make_volunteer):
    volunteer_id, headers = make_volunteer()
    listed = client.get(PREFS, headers=headers)
    assert listed.status_code == 200
    prefs = {p["kind"]: p for p in listed.json["preferences"]}
    assert {p["audience"] for p in prefs.values()} == {"volunteer"}
    assert prefs["reminder_7d"]["channel_choices"] == [["email"]]
    assert prefs["reminder_2h"]["channel_choices"] == [["zalo", "sms"]]
    assert prefs["assigned"]["channels"] == ["zalo", "sms", "email"]

    refused = client.put(
        PREFS,
        json={
            "preferences": [
                {"audience": "volunteer", "kind": "reminder_2h", "channels": ["email"]},
                {"audience": "volunteer", "kind": "unfilled_roles", "enabled": False},
                {"audience": "user", "kind": "organizer_digest", "enabled": False},
            ]
        },
        headers=headers,
    )
    assert refused.status_code == 422
    assert set(refused.json["messages"]) == {
        "preferences.0.channels",
        "preferences.1.kind",
        "preferences.2.audience",
    }
    # The audience in words, in the reader's language: never its code.
    messages = refused.json["messages"]
    assert messages["preferences.2.audience"] == ["Bạn không nhận tin với vai trò ban tổ chức."]
    assert messages["preferences.1.kind"] == [
        "Loại tin này không dành cho vai trò tình nguyện viên."
    ]
    db.session.get_one(Volunteer, volunteer_id).user.locale = "en"  # their saved choice
    db.session.commit()
    refresh()  # the tests' app context outlives requests: Flask-Babel cached the language
    english = client.put(
        PREFS,
        json={"preferences": [{"audience": "user", "kind": "organizer_digest", "enabled": False}]},
        headers=headers,
    )
    assert english.json["messages"] == {
        "preferences.0.audience": ["You get no messages as an organizer."]
    }
    malformed = client.put(
        PREFS,
        json={"preferences": [{"audience": "volunteer", "kind": "assigned", "channels": ["fax"]}]},
        headers=headers,
    )
    assert malformed.status_code == 422

    saved = client.put(
        PREFS,
        json={
            "preferences": [
                {"audience": "volunteer", "kind": "assigned", "channels": ["sms", "email"]},
                {"audience": "volunteer", "kind": "reminder_1d", "enabled": False},
            ]
        },
        headers=headers,
    )
    assert saved.status_code == 200
    prefs = {p["kind"]: p for p in saved.json["preferences"]}
    assert prefs["assigned"]["channels"] == ["sms", "email"]
    assert prefs["reminder_1d"]["enabled"] is False and prefs["reminder_7d"]["enabled"] is True
    assert client.get(PREFS).status_code == 401


def test_an_organizer_chooses_for_the_organizers_messages(client, organizer_headers):
    prefs = client.get(PREFS, headers=organizer_headers).json["preferences"]
    assert {p["kind"] for p in prefs} == {
        "unfilled_roles",
        "organizer_digest",
        "unconfirmed_volunteers",
        "cover_unfilled",
    }
    saved = client.put(
        PREFS,
        json={
            "preferences": [
                {"audience": "user", "kind": "unconfirmed_volunteers", "channels": ["zalo", "sms"]}
            ]
        },
        headers=organizer_headers,
    )
    assert saved.status_code == 200
    [changed] = [p for p in saved.json["preferences"] if p["kind"] == "unconfirmed_volunteers"]
    assert changed["channels"] == ["zalo", "sms"]


def test_the_preferences_page_offers_each_kind_only_the_channels_it_may_take(
    client, make_volunteer
):
    from coordinator.notifications.links import preferences_url
    from coordinator.notifications.routing import order_for

    volunteer_id, _ = make_volunteer()
    url = preferences_url("volunteer", volunteer_id).removeprefix("http://localhost:5000")
    page = client.get(url)
    assert page.status_code == 200

    def options(kind: str) -> list[str]:
        select = page.text.split(f'name="channels-{kind}"')[1].split("</select>")[0]
        return [v for v in select.split('value="')[1:] for v in [v.split('"')[0]]]

    assert options("reminder_7d") == ["email"]
    assert options("reminder_2h") == ["zalo,sms"]
    assert "email" in options("assigned") and "zalo,sms,email" in options("assigned")

    # A choice the kind does not offer (a forged form) is left out, not a 500.
    saved = client.post(
        url,
        data={
            "kind": ["reminder_2h"],
            "channels-reminder_2h": "email",
            "channels-assigned": "sms,email",
        },
    )
    assert saved.status_code == 200
    assert order_for("volunteer", volunteer_id, "reminder_2h") == ("zalo", "sms")
    assert order_for("volunteer", volunteer_id, "assigned") == ("sms", "email")
    db.session.commit()
