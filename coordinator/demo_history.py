"""The demo's history: sessions held in early 2025 in wards of the former Đống Đa
district, with their participants, attendance and assessments, so that the roll-up of
old wards into the new ones (`roll_up_map`, `history_of`, the progress figures) has
something to show.

These rows are written directly, as history, on purpose: the operations refuse new
things in units that have ended (`require_ward(current=True)`) and sessions that start in
the past, which is right for new things and wrong for a record of what happened.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from coordinator.bookings.models import (
    Assignment,
    AssignmentStatus,
    Registration,
    RegistrationStatus,
)
from coordinator.extensions import db
from coordinator.people.models import Participant, ParticipantPrivate, User, Volunteer
from coordinator.progress.models import Assessment
from coordinator.schemas import display_timezone
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession

# (old ward, day, topic, competence area, target group, participants); phuong_mai was
# split in 2025: its figures roll up into Kim Liên (main), not Bạch Mai.
PAST_SESSIONS = [
    ("lang_thuong", date(2025, 2, 15), "Sử dụng điện thoại thông minh", "1", "residents", 8),
    ("kham_thien", date(2025, 3, 8), "Dịch vụ công trực tuyến và VNeID", "2", "residents", 7),
    ("kim_lien", date(2025, 3, 22), "An toàn trên mạng", "4", "students", 6),
    ("o_cho_dua", date(2025, 4, 12), "Thanh toán điện tử an toàn", "4", "residents", 6),
    ("phuong_mai", date(2025, 5, 10), "Sử dụng điện thoại thông minh", "1", "residents", 5),
    ("thinh_quang", date(2025, 6, 7), "Dịch vụ công trực tuyến và VNeID", "2", "students", 6),
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đỗ"]
GIVEN = ["Thị Hoa", "Văn Tám", "Thị Nga", "Văn Hùng", "Thị Lan", "Minh Đức", "Thu Hà"]


def seed_history(organizer: User, volunteers: list[Volunteer]) -> int:
    """The past sessions that are missing (by title); how many were added."""
    zone = display_timezone()
    leads = [v for v in volunteers if v.is_expert] or volunteers
    added = 0
    for index, (ward, day, topic, area, group, size) in enumerate(PAST_SESSIONS):
        name = db.session.scalar(sa.text("SELECT name FROM wards WHERE code = :c"), {"c": ward})
        title = f"{topic} ({name}, {day:%m/%Y})"
        if db.session.scalar(sa.select(TrainingSession.id).where(TrainingSession.title == title)):
            continue
        starts = datetime.combine(day, time(8, 30), tzinfo=zone)
        ends = starts + timedelta(hours=2)
        session = TrainingSession(
            title=title,
            description="Lớp học năm 2025, trước khi sắp xếp đơn vị hành chính.",
            competence_area=area,
            target_group=group,
            ward=ward,  # an old ward: the record keeps the unit it happened in
            venue="Nhà văn hóa phường",
            starts_at=starts,
            ends_at=ends,
            capacity=20,
            registered_count=size,
            status=SessionStatus.COMPLETED,
            organizer_id=organizer.id,
            created_at=starts - timedelta(days=14),
            updated_at=ends,
            roles=[SessionRole(role="lead", count=1, taken=1, required_skills=[])],
        )
        db.session.add(session)
        db.session.flush()
        db.session.add(
            Assignment(
                session_id=session.id,
                role_id=session.roles[0].id,
                volunteer_id=leads[index % len(leads)].id,
                source="organizer",
                status=AssignmentStatus.CONFIRMED,
                session_version=1,
                created_by=organizer.id,
                created_at=starts - timedelta(days=10),
                decided_at=starts - timedelta(days=9),
                attendance="attended",  # the lead came: their hours count
            )
        )
        _participants(session, size, random.Random(title), organizer)
        added += 1
    db.session.flush()
    return added


def _participants(session: TrainingSession, size: int, rng: random.Random, by: User) -> None:
    """`size` people of the session's ward: registered, most came, most of those
    reached the basic standard."""
    for n in range(size):
        participant = Participant(
            full_name=f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
            ward=session.ward,
            target_group=session.target_group,
            consent_at=session.created_at,
            registered_by=by.id,
            created_at=session.created_at,
            private=ParticipantPrivate(accessibility_needs=[]),
        )
        db.session.add(participant)
        db.session.flush()
        attended = n < size - 1  # one stayed away
        db.session.add(
            Registration(
                session_id=session.id,
                participant_id=participant.id,
                status=RegistrationStatus.REGISTERED,
                created_by=by.id,
                created_at=session.created_at,
                updated_at=session.ends_at,
                attended=attended,
                checked_in_at=session.starts_at if attended else None,
            )
        )
        if attended:
            level = rng.randint(2, 4)
            db.session.add(
                Assessment(
                    participant_id=participant.id,
                    session_id=session.id,
                    competence_code=session.competence_area,
                    level=level,
                    reached_basic=level >= 3,
                    assessed_by=by.id,
                    assessed_at=session.ends_at,
                )
            )
