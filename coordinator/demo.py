"""Demo data for a first look: Đống Đa's wards, the framework, people and sessions.

Idempotent: every row is looked up by a natural key before it is created.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa

from coordinator.competences.operations import import_framework_file
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.operations import import_wards_file
from coordinator.people.models import User, Volunteer
from coordinator.people.operations import create_user, create_volunteer
from coordinator.schemas import display_timezone
from coordinator.sessions.models import TrainingSession
from coordinator.sessions.operations import create_sessions
from coordinator.squads.models import Squad
from coordinator.squads.operations import create_squad

DATA = Path(__file__).resolve().parent / "data"
DEMO_ORGANIZER = ("organizer@demo.squads.vn", "to-chuc-demo-2026")
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


def seed_demo() -> dict[str, int]:
    """Load the demo set; returns counts of what exists afterwards."""
    import_wards_file(DATA / "wards_dong_da.json")
    import_framework_file(DATA / "competences_digcomp22.json")
    organizer = _organizer()
    volunteers = _volunteers()
    _squads(volunteers)
    _sessions(organizer)
    db.session.flush()
    return {
        "wards": db.session.scalar(sa.text("SELECT count(*) FROM wards")),
        "volunteers": db.session.scalar(sa.select(sa.func.count(Volunteer.id))),
        "squads": db.session.scalar(sa.select(sa.func.count(Squad.id))),
        "sessions": db.session.scalar(sa.select(sa.func.count(TrainingSession.id))),
    }


def _organizer() -> User:
    email, password = DEMO_ORGANIZER
    user = db.session.scalar(sa.select(User).where(User.email == email))
    return user or create_user(email, "organizer", password)


def _volunteers() -> list[Volunteer]:
    wards = list(db.session.scalars(sa.text("SELECT code FROM wards ORDER BY code")))
    rng = random.Random(2026)
    result = []
    for n in range(40):
        email = f"tnv{n + 1:02d}@demo.squads.vn"
        existing = db.session.scalar(sa.select(Volunteer).where(Volunteer.email == email))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        data = {
            "full_name": name,
            "email": email,
            "home_ward": rng.choice(wards),
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
        result.append(existing)
    return result


def _squads(volunteers: list[Volunteer]) -> None:
    names = ["Đội Văn Miếu", "Đội Kim Liên", "Đội Láng Hạ", "Đội Ô Chợ Dừa", "Đội Khâm Thiên"]
    for index, name in enumerate(names):
        if db.session.scalar(sa.select(Squad.id).where(Squad.name == name)):
            continue
        members = volunteers[index * 8 : index * 8 + 8]
        leader = next((v for v in members if v.is_expert), members[0])
        create_squad(
            {
                "name": name,
                "leader_id": leader.id,
                "member_ids": [v.id for v in members],
                "home_ward": leader.home_ward,
                "focus_groups": ["residents"],
            }
        )


def _sessions(organizer: User) -> None:
    wards = list(db.session.scalars(sa.text("SELECT code FROM wards ORDER BY code")))
    zone = display_timezone()
    today = utcnow().astimezone(zone).date()
    rng = random.Random(7)
    for n in range(20):
        title, area, group, skills = TOPICS[n % len(TOPICS)]
        title = f"{title} (buổi {n + 1})"
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
                "ward": wards[n % len(wards)],
                "venue": f"Nhà văn hóa tổ dân phố số {n % 9 + 1}",
                "venue_accessibility": ["wheelchair"] if n % 3 == 0 else [],
                "starts_at": start,
                "ends_at": start + timedelta(hours=2),
                "capacity": rng.choice([20, 25, 30]),
                "roles": roles,
                "participant_needs": needs,
                "languages": ["vi"],
            },
            organizer_id=organizer.id,
        )
