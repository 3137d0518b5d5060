"""The demo: Hanoi since July 2025, its logins, and a little history in the old wards."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from coordinator.demo import DEMO_ORGANIZER, DEMO_VOLUNTEER_PASSWORD, email_slug, seed_demo
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import history_of, neighbors_of, roll_up_map
from coordinator.people.models import Participant, User, Volunteer
from coordinator.people.scopes import scope_of
from coordinator.sessions.models import TrainingSession
from coordinator.squads.models import Squad

NEW_WARDS = {"00187", "00190", "00196", "00226", "00235"}


@pytest.fixture
def demo(app):
    seed_demo()
    db.session.commit()


def test_email_slugs_drop_the_unit_type_and_the_diacritics():
    assert email_slug("Phường Văn Miếu - Quốc Tử Giám") == "van-mieu-quoc-tu-giam"
    assert email_slug("Phường Đống Đa") == "dong-da"
    assert email_slug("Thành phố Hà Nội") == "ha-noi"


def test_the_documented_logins_work(demo, client):
    password = DEMO_ORGANIZER[1]
    logins = [
        DEMO_ORGANIZER,
        ("to-chuc.ha-noi@demo.squads.vn", password),
        ("to-chuc.lang@demo.squads.vn", password),
        ("to-chuc.van-mieu-quoc-tu-giam@demo.squads.vn", password),
        ("tnv01@demo.squads.vn", DEMO_VOLUNTEER_PASSWORD),
    ]
    for email, password in logins:
        response = client.post("/api/v1/auth/tokens", json={"email": email, "password": password})
        assert response.status_code == 201, (email, response.json)


def test_organizers_national_for_hanoi_and_one_per_ward(demo):
    def user(email: str) -> User:
        return db.session.scalar(sa.select(User).where(User.email == email))

    assert scope_of(user(DEMO_ORGANIZER[0])).national
    hanoi = scope_of(user("to-chuc.ha-noi@demo.squads.vn"))
    assert hanoi.province_codes == {"01"} and {"00187", "lang_thuong"} <= hanoi.ward_codes
    lang = scope_of(user("to-chuc.lang@demo.squads.vn"))
    assert lang.ward_codes == {"00187", "lang_thuong", "lang_ha"}  # with the units it took over
    ward_organizers = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.email.like("to-chuc.%"))
    )
    assert ward_organizers == 12  # 11 wards and Hanoi


def test_people_and_upcoming_sessions_are_in_current_units_with_neighbours(demo):
    current = {w.code for w in db.session.scalars(sa.select(Ward).where(Ward.valid_to.is_(None)))}
    assert set(db.session.scalars(sa.select(Volunteer.home_ward))) <= current
    assert set(db.session.scalars(sa.select(Squad.home_ward))) == NEW_WARDS
    upcoming = db.session.scalars(
        sa.select(TrainingSession).where(TrainingSession.status == "published")
    ).all()
    assert len(upcoming) == 20 and {s.ward for s in upcoming} <= current
    organizers = {s.organizer_id for s in upcoming}
    assert len(organizers) == 11  # each session by its ward's organizer
    assert neighbors_of("00187") == {"00167", "00025", "00190", "00235"}
    assert "00187" in neighbors_of("00235")  # symmetric


def test_the_old_district_ended_and_its_2025_sessions_roll_up(demo):
    old = db.session.scalars(sa.select(Ward).where(Ward.district == "dong_da")).all()
    assert len(old) == 17
    assert {w.valid_to for w in old} == {date(2025, 6, 30)}
    assert {w.province_code for w in old} == {"01"}
    past = db.session.scalars(
        sa.select(TrainingSession).where(TrainingSession.status == "completed")
    ).all()
    assert {s.ward for s in past} <= {w.code for w in old}
    assert all(s.starts_at.year == 2025 and s.starts_at.month <= 6 for s in past)
    rolled = roll_up_map()
    assert rolled["phuong_mai"] == "00226"  # split: the main successor takes the figures
    assert {"kim_lien", "phuong_mai"} <= set(history_of("00226"))
    participants = db.session.scalars(sa.select(Participant.ward)).all()
    assert participants and all(rolled.get(ward) in NEW_WARDS for ward in participants)
