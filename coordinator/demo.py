"""Demo data for a first look: Hanoi since the two-level map of 1 July 2025.

The five wards that replaced most of the former Đống Đa district and six neighbours
(coordinator/data/hanoi_demo.json), an organizer per ward and one for Hanoi, squads,
volunteers, targets and sessions there; and a little history: the 17 wards of the old
district, their 2025 merger, and a few sessions held in them in early 2025
(`demo_history.py`). Only Hanoi's 126 units are loaded (a fraction of a second, against
seconds for the whole country; `flask geography import-national` adds the rest).

Idempotent: every row is looked up by a natural key before it is created.
"""

from __future__ import annotations

import json
import random
import unicodedata
from datetime import datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa

from coordinator.competences.operations import import_framework_file
from coordinator.database import utcnow
from coordinator.demo_history import seed_history
from coordinator.extensions import db
from coordinator.geography.changes import import_changes, parse_changes
from coordinator.geography.models import Ward
from coordinator.geography.national import import_national, national_data, province_code
from coordinator.geography.operations import import_wards_file, roll_up_map
from coordinator.people.auth import hash_password
from coordinator.people.models import Participant, User, Volunteer
from coordinator.people.operations import create_user, create_volunteer
from coordinator.people.scopes import set_scopes
from coordinator.progress.models import PopulationTarget
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.operations import create_sessions
from coordinator.squads.models import Squad
from coordinator.squads.operations import create_squad

DATA = Path(__file__).resolve().parent / "data"
DEMO_PROVINCE = "01"  # Hanoi
DEMO_MAP = DATA / "hanoi_demo.json"
OLD_DISTRICT = DATA / "wards_dong_da.json"
OLD_DISTRICT_CHANGES = DATA / "changes_2025_dong_da.csv"
# Every demo organizer (national, Hanoi's, each ward's) has this password.
DEMO_ORGANIZER = ("organizer@demo.squads.vn", "to-chuc-demo-2026")
DEMO_PROVINCE_ORGANIZER = "to-chuc.ha-noi@demo.squads.vn"
DEMO_VOLUNTEER_PASSWORD = "tinh-nguyen-demo-2026"

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô"]
MIDDLE = ["Thị", "Văn", "Minh", "Thu", "Đức", "Ngọc", "Quang", "Hải"]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hùng",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phương",
    "Quân",
    "Sơn",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vy",
]
SKILLS = [
    "smartphone_basics",
    "online_public_services",
    "cyber_safety",
    "e_payment",
    "office_basics",
    "ai_basics",
    "social_media",
]
TOPICS = [
    ("Sử dụng điện thoại thông minh cơ bản", "1", "residents", ["smartphone_basics"]),
    ("Dịch vụ công trực tuyến và VNeID", "2", "residents", ["online_public_services"]),
    ("An toàn trên mạng: nhận diện lừa đảo", "4", "students", ["cyber_safety"]),
    ("Thanh toán điện tử an toàn", "4", "workers", ["e_payment"]),
    ("Ứng dụng AI trong công việc văn phòng", "6", "civil_servants", ["ai_basics"]),
    ("Kỹ năng số cho thanh niên khuyết tật", "1", "youth_disabilities", ["smartphone_basics"]),
]
# The squads of the five wards that replaced the old district, by ward.
SQUADS = {
    "Đội Láng": "00187",
    "Đội Ô Chợ Dừa": "00190",
    "Đội Văn Miếu": "00196",
    "Đội Kim Liên": "00226",
    "Đội Đống Đa": "00235",
}
TARGET_GROUPS = {"residents": (1200, 4000, 25.0), "students": (300, 900, 40.0)}


def seed_demo() -> dict[str, int]:
    """Load the demo set; returns counts of what exists afterwards."""
    wards = _map()
    import_framework_file(DATA / "competences_digcomp22.json")
    organizers = _organizers(wards)
    volunteers = _volunteers(wards)
    _squads(volunteers)
    _targets(wards)
    _sessions(wards, organizers)
    seed_history(organizers[None], volunteers)
    db.session.flush()
    count = lambda column: db.session.scalar(sa.select(sa.func.count(column)))  # noqa: E731
    return {
        "wards": count(Ward.code),
        "demo wards": len(wards),
        "organizers": db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.role == "organizer")
        ),
        "volunteers": count(Volunteer.id),
        "squads": count(Squad.id),
        "sessions": count(TrainingSession.id),
        "participants": count(Participant.id),
    }


def _map() -> list[Ward]:
    """Hanoi's units, the old district with its 2025 merger, and the demo's neighbour
    links; the demo's wards, in the file's order."""
    import_national([p for p in national_data() if province_code(p["code"]) == DEMO_PROVINCE])
    import_wards_file(OLD_DISTRICT)
    import_changes(parse_changes(OLD_DISTRICT_CHANGES.read_text(encoding="utf-8")))
    import_wards_file(DEMO_MAP)
    codes = [w["code"] for w in json.loads(DEMO_MAP.read_text(encoding="utf-8"))["wards"]]
    return [db.session.get(Ward, code) for code in codes]


def email_slug(name: str) -> str:
    """'Phường Văn Miếu - Quốc Tử Giám' -> 'van-mieu-quoc-tu-giam'."""
    for prefix in ("Phường ", "Xã ", "Đặc khu ", "Thành phố "):
        name = name.removeprefix(prefix)
    name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in name if c.isascii()).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split())


def _organizers(wards: list[Ward]) -> dict[str | None, User]:
    """The national organizer (key None), Hanoi's (key "01") and each ward's."""
    email, password = DEMO_ORGANIZER
    logins: dict[str | None, tuple[str, list[str]]] = {
        None: (email, []),
        DEMO_PROVINCE: (DEMO_PROVINCE_ORGANIZER, [DEMO_PROVINCE]),
    }
    for ward in wards:
        logins[ward.code] = (f"to-chuc.{email_slug(ward.name)}@demo.squads.vn", [ward.code])
    shared_hash = None  # they share one password: hash it once (argon2id takes ~0.5 s)
    result = {}
    for key, (address, units) in logins.items():
        user = db.session.scalar(sa.select(User).where(User.email == address))
        if user is None:
            shared_hash = shared_hash or hash_password(password)
            user = create_user(address, "organizer", None)
            user.password_hash = shared_hash
            if units:  # none: national
                set_scopes(user, units)
        result[key] = user
    return result


def _volunteers(wards: list[Ward]) -> list[Volunteer]:
    codes = [w.code for w in wards]
    moved = roll_up_map()
    rng = random.Random(2026)
    result = []
    for n in range(40):
        email = f"tnv{n + 1:02d}@demo.squads.vn"
        existing = db.session.scalar(sa.select(Volunteer).where(Volunteer.email == email))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        data = {
            "full_name": name,
            "email": email,
            "home_ward": rng.choice(codes),
            "skills": sorted(rng.sample(SKILLS, rng.randint(1, 3))),
            "languages": ["vi", "en"] if rng.random() < 0.4 else ["vi"],
            "accessibility_skills": ["sign_language"]
            if n % 8 == 0
            else (["screen_reader"] if n % 11 == 0 else []),
            "is_expert": n % 5 == 0,
            "max_sessions_per_week": rng.randint(1, 3),
            "availability": [
                {"weekday": d, "start_minute": 17 * 60 + 30, "end_minute": 21 * 60}
                for d in sorted(rng.sample(range(5), 2))
            ]
            + [{"weekday": 5, "start_minute": 8 * 60, "end_minute": 12 * 60}],
        }
        if existing is None:
            password = DEMO_VOLUNTEER_PASSWORD if n == 0 else None
            existing = create_volunteer(data, password=password)
        elif existing.home_ward in moved:  # an older demo's volunteer, in a ward that ended
            existing.home_ward = moved[existing.home_ward]
        result.append(existing)
    return result


def _squads(volunteers: list[Volunteer]) -> None:
    moved = roll_up_map()
    for squad in db.session.scalars(sa.select(Squad).where(Squad.home_ward.in_(moved))):
        squad.home_ward = moved[squad.home_ward]  # an older demo's squad
    for index, (name, ward) in enumerate(SQUADS.items()):
        if db.session.scalar(sa.select(Squad.id).where(Squad.name == name)):
            continue
        members = volunteers[index * 8 : index * 8 + 8]
        leader = next((v for v in members if v.is_expert), members[0])
        create_squad(
            {
                "name": name,
                "leader_id": leader.id,
                "member_ids": [v.id for v in members],
                "home_ward": ward,
                "focus_groups": ["residents"],
            }
        )


def _targets(wards: list[Ward]) -> None:
    """This year's targets of the demo's wards (baselines made up, stable per ward)."""
    year = utcnow().astimezone(display_timezone()).year
    for ward in wards:
        rng = random.Random(ward.code)
        for group, (low, high, percent) in TARGET_GROUPS.items():
            key = {"ward": ward.code, "target_group": group, "year": year}
            if db.session.scalar(sa.select(PopulationTarget.id).filter_by(**key)) is None:
                db.session.add(
                    PopulationTarget(
                        **key, baseline=rng.randint(low, high) // 10 * 10, target_percent=percent
                    )
                )


def _sessions(wards: list[Ward], organizers: dict[str | None, User]) -> None:
    """Twenty sessions over the next weeks, each organized by its ward's organizer."""
    zone = display_timezone()
    today = utcnow().astimezone(zone).date()
    rng = random.Random(7)
    for n in range(20):
        title, area, group, skills = TOPICS[n % len(TOPICS)]
        ward = wards[n % len(wards)]
        title = f"{title} (buổi {n + 1}, {ward.name.removeprefix('Phường ')})"
        if db.session.scalar(sa.select(TrainingSession.id).where(TrainingSession.title == title)):
            continue
        day = today + timedelta(days=2 + n + (n // 5) * 2)
        start = datetime.combine(
            day, time(18, 0) if day.weekday() < 5 else time(8, 30), tzinfo=zone
        )
        needs = ["sign_language"] if group == "youth_disabilities" else []
        roles = [
            {"role": "lead", "count": 1, "required_skills": skills},
            {"role": "helper", "count": rng.randint(1, 3), "required_skills": []},
        ]
        if needs:
            roles.append({"role": "interpreter", "count": 1, "required_skills": []})
        create_sessions(
            {
                "title": title,
                "description": "Buổi học thực hành, mang theo điện thoại của bạn.",
                "competence_area": area,
                "target_group": group,
                "ward": ward.code,
                "venue": f"Nhà văn hóa tổ dân phố số {n % 9 + 1}",
                "venue_accessibility": ["wheelchair"] if n % 3 == 0 else [],
                "starts_at": start,
                "ends_at": start + timedelta(hours=2),
                "capacity": rng.choice([20, 25, 30]),
                "roles": roles,
                "participant_needs": needs,
                "languages": ["vi"],
            },
            organizer_id=organizers[ward.code].id,
        )
