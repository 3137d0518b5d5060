"""The map on pages: ward names are read only for the wards a page shows, and ward
pickers offer today's units of the user's scope or province, in Vietnamese order."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from coordinator.demo import DEMO_ORGANIZER, DEMO_VOLUNTEER_PASSWORD, seed_demo
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.national import import_national, national_data
from coordinator.people.models import Volunteer
from coordinator.text import vietnamese_sort_key
from tests.page_helpers import log_in, text

HUE = 46


@pytest.fixture
def demo(app):
    seed_demo()
    db.session.commit()


def options(page: str, name: str) -> list[tuple[str, str]]:
    """The (value, label) options of the select named `name`."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def hanoi_today() -> set[str]:
    return set(
        db.session.scalars(
            sa.select(Ward.code).where(Ward.province_code == "01", Ward.valid_to.is_(None))
        )
    )


def test_vietnamese_order_without_icu():
    names = ["Ô Chợ Dừa", "Đống Đa", "Bạch Mai", "Ba Đình", "Cầu Giấy", "Dương Nội", "Hà Đông"]
    assert sorted(names, key=vietnamese_sort_key) == [
        "Ba Đình",
        "Bạch Mai",
        "Cầu Giấy",
        "Dương Nội",
        "Đống Đa",
        "Hà Đông",
        "Ô Chợ Dừa",
    ]


def test_a_page_reads_only_the_ward_names_it_shows(app, client, demo):
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        if re.search(r"\bFROM wards\b", statement):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        page = text(client.get("/", headers={"Accept-Language": "en"}))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    shown = set(re.findall(r'href="/wards/([^"]+)"', page))
    assert shown and "Lang Ward" in page  # the English name, where one is known
    assert len(statements) <= len(shown)  # one small query per ward shown, never the map


def test_the_registration_picker_offers_todays_units_of_the_province(client, demo):
    hanoi = hanoi_today()
    assert len(hanoi) == 126
    offered = options(text(client.get("/register")), "home_ward")
    assert {code for code, _label in offered} == hanoi  # not the 17 wards that ended
    labels = [label.removeprefix("Phường ").removeprefix("Xã ") for _code, label in offered]
    assert labels == sorted(labels, key=vietnamese_sort_key)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (DEMO_ORGANIZER[0], None),  # national: the service's province (Hanoi)
        ("to-chuc.ha-noi@demo.squads.vn", None),
        ("to-chuc.lang@demo.squads.vn", {"00187"}),
    ],
)
def test_an_organizers_picker_offers_their_units(client, demo, email, expected):
    log_in(client, email, DEMO_ORGANIZER[1])
    offered = options(text(client.get("/organize/sessions/new")), "ward")
    assert {code for code, _label in offered} == (expected or hanoi_today())


def test_a_volunteer_is_offered_their_own_province_and_keeps_their_ward(client, demo):
    import_national([p for p in national_data() if p["code"] == HUE])
    volunteer = db.session.scalar(
        sa.select(Volunteer).where(Volunteer.email == "tnv01@demo.squads.vn")
    )
    hue = set(db.session.scalars(sa.select(Ward.code).where(Ward.province_code == "46")))
    volunteer.home_ward = sorted(hue)[0]
    db.session.commit()
    log_in(client, volunteer.email, DEMO_VOLUNTEER_PASSWORD)
    assert {code for code, _label in options(text(client.get("/me/profile")), "home_ward")} == hue

    # a ward that ended: still offered, as the value the profile holds (the request
    # ended the test's database session: read the volunteer again)
    db.session.get(Volunteer, volunteer.id).home_ward = "kim_lien"
    db.session.commit()
    picked = {code for code, _label in options(text(client.get("/me/profile")), "home_ward")}
    assert picked == hanoi_today() | {"kim_lien"}
