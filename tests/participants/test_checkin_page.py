"""The check-in page at the door: a refused save keeps every entry as typed, "everyone is
here" ticks every Present box, levels are described in words and folded away, names a
lead can tell apart."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from coordinator.participants.attendance import door_names
from coordinator.people.models import Participant, User
from coordinator.progress.models import Assessment
from tests.page_helpers import csrf_token, log_in, text


def _lead_logs_in(client) -> None:
    lead = db.session.scalar(sa.select(User).where(User.role == "volunteer").order_by(User.id))
    log_in(client, lead.email)


def test_a_refused_save_keeps_every_entry(client, under_way):
    lesson = under_way
    _lead_logs_in(client)
    page = f"/checkin/{lesson['session']['id']}"
    reg = lesson["registration"]
    refused = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "section": "participants",
            f"attended-{reg}": "y",
            f"level-{reg}-1": "3",
            f"level-{reg}-2": "chin",  # not a level: the whole save is refused
            f"reached-{reg}": "y",
        },
    )
    assert refused.status_code == 422
    html = text(refused)
    assert f'id="attended-{reg}" name="attended-{reg}" value="y" checked' in html
    assert f'id="reached-{reg}" name="reached-{reg}" value="y" checked' in html
    assert '<option value="3" selected>mức 3: ' in html
    assert "<details open>" in html  # the entry with the error is unfolded
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Assessment.id))) == 0
    assert db.session.get(Registration, reg).attended is not True


def test_levels_are_described_in_words_and_folded_away(client, under_way):
    _lead_logs_in(client)
    html = text(client.get(f"/checkin/{under_way['session']['id']}"))
    assert "<details>" in html and "Đánh giá kỹ năng (không bắt buộc)" in html
    assert "mức 3: tự làm được các việc thường ngày" in html


def test_everyone_is_here_ticks_every_present_box(client, under_way):
    lesson = under_way
    _lead_logs_in(client)
    page = f"/checkin/{lesson['session']['id']}"
    reg = lesson["registration"]
    saved = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "section": "participants",
            "all_present": "y",
            f"level-{reg}-1": "2",
        },
    )
    assert saved.status_code == 302
    db.session.rollback()
    assert db.session.get(Registration, reg).attended is True
    assert [a.level for a in db.session.scalars(sa.select(Assessment))] == [2]


def test_door_names_tell_people_apart():
    people = [
        Participant(id=1, full_name="Đỗ Thị Mai"),
        Participant(id=2, full_name="Đặng Văn Mai"),  # "Mai Đ." twice: full names
        Participant(id=3, full_name="Nguyễn Hoa"),
        Participant(id=4, full_name="Hùng"),
    ]
    assert door_names(people) == {
        1: "Đỗ Thị Mai",
        2: "Đặng Văn Mai",
        3: "Hoa N.",
        4: "Hùng",
    }
