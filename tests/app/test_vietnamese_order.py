"""Lists people read are in Vietnamese order: the collation key agrees with ICU's
Vietnamese collation (PostgreSQL's vi-x-icu), and the pages use it."""

from __future__ import annotations

import os
import random

import pytest
import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.text import vietnamese_name_key, vietnamese_sort_key
from tests.page_helpers import log_in, text

# Names a Vietnamese reader expects in this order; a code-point sort puts "Ánh" after
# "Bình" and "Đặng" after "Ô Chợ Dừa" (Á is U+00C1, Ô U+00D4, Đ U+0110).
EXPECTED = ["Ánh", "Bình", "Đặng", "Ô Chợ Dừa"]
WORDS = [
    "An", "Ánh", "Ăn", "Ân", "Ba Đình", "Bạch Mai", "Bình", "Cầu Giấy", "Đặng", "Đống Đa",
    "Giảng Võ", "Ha", "Hà", "Hả", "Hã", "Há", "Hạ", "O", "Ô", "Ô Chợ Dừa", "Ơ", "Tú",
    "Tuấn", "Tư", "Ưng", "Văn Miếu - Quốc Tử Giám", "Kim Liên", "Láng", "Lạng", "Yên",
    "Ý Yên", "Đinh", "Dung", "Phạm", "Phan", "Quách", "Quang", "Thanh Xuân", "Thành",
]  # fmt: skip


def test_the_key_puts_vietnamese_names_where_a_reader_expects_them():
    assert sorted(reversed(EXPECTED)) != EXPECTED  # code points get it wrong
    assert sorted(reversed(EXPECTED), key=vietnamese_sort_key) == EXPECTED


def test_people_are_listed_by_given_name_then_whole_name():
    people = ["Trần Văn Bình", "Nguyễn Thị Ánh", "Lê Đặng", "Đỗ Ánh", "Phạm Ô"]
    assert sorted(people, key=vietnamese_name_key) == [
        "Đỗ Ánh",
        "Nguyễn Thị Ánh",
        "Trần Văn Bình",
        "Lê Đặng",
        "Phạm Ô",
    ]


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="ICU collation (vi-x-icu) is PostgreSQL's; on SQLite there is none to ask",
)
def test_the_key_agrees_with_icu_vietnamese_collation(app):
    """PostgreSQL's ICU collation is the reference."""
    shuffled = WORDS[:]
    random.Random(20).shuffle(shuffled)
    values = sa.values(sa.column("w", sa.Text), name="words").data([(w,) for w in shuffled])
    icu = db.session.scalars(sa.select(values.c.w).order_by(values.c.w.collate("vi-x-icu"))).all()
    assert sorted(shuffled, key=vietnamese_sort_key) == icu


def test_the_assignment_picker_lists_volunteers_in_vietnamese_order(
    client, make_user, make_session, make_volunteer
):
    session = make_session()
    for name in ["Phạm Ô", "Trần Văn Bình", "Lê Đặng", "Nguyễn Thị Ánh"]:
        make_volunteer(full_name=name)
    log_in(client, make_user("organizer").email)
    page = text(client.get(f"/organize/sessions/{session['id']}"))
    names = ["Nguyễn Thị Ánh", "Trần Văn Bình", "Lê Đặng", "Phạm Ô"]  # by given name
    positions = [page.index(f"{name} (") for name in names]
    assert positions == sorted(positions), page
