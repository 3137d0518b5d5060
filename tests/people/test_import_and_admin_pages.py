"""Importing volunteers from CSV (a per-row error report; all or nothing unless asked),
and the admin pages: users and roles, wards and the competence framework."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from coordinator.competences.models import Competence
from coordinator.extensions import db, redis_connection
from coordinator.geography.models import Ward
from coordinator.people.models import User, Volunteer
from tests.page_helpers import csrf_token, log_in, text

HEADER = (
    "full_name,email,phone,home_ward,skills,languages,accessibility_skills,is_expert,"
    "max_sessions_per_week,availability\n"
)
GOOD = [
    "Nguyễn Văn An,an@example.vn,0901234567,kim_lien,smartphone_basics;e_payment,vi,,có,2,"
    "T3 18:00-21:00; T7 08:00-12:00\n",
    "Trần Thị Bình,binh@example.vn,,phuong_mai,cyber_safety,vi;en,sign_language,no,1,"
    "Sat 08:00-12:00\n",
]
BAD = [
    "Lê Văn Cường,not-an-email,,kim_lien,,,,,2,\n",  # line 4
    "Phạm Thị Dung,dung@example.vn,,atlantis,,,,,2,\n",  # line 5: unknown ward
    "Hoàng Văn Em,em@example.vn,,kim_lien,,,,,2,Thứ Hai sáng\n",  # line 6: bad window
    "Nguyễn Văn An 2,AN@example.vn,,kim_lien,,,,,2,\n",  # line 7: same email as line 2
]


def upload(client, path: str, content: str, **fields):
    token = csrf_token(client, path)
    data = {"csrf_token": token, "file": (io.BytesIO(content.encode()), "file.csv"), **fields}
    return client.post(path, data=data, content_type="multipart/form-data")


def imported(client, content: str, **fields):
    """Upload a volunteers file, let a real in-process worker import it, and return the
    import's page (the report per row)."""
    response = upload(client, "/organize/volunteers/import", content, **fields)
    assert response.status_code == 303, text(response)
    SimpleWorker(["default"], connection=redis_connection.client).work(burst=True)
    return client.get(response.headers["Location"])


@pytest.fixture
def organizer(client, make_user, wards):
    user = make_user("organizer")
    log_in(client, user.email)
    return user


def volunteers() -> dict[str, Volunteer]:
    db.session.rollback()
    return {v.email: v for v in db.session.scalars(sa.select(Volunteer))}


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(client, organizer):
    response = imported(client, HEADER + "".join(GOOD + BAD))
    page = text(response)
    assert "Chưa nhập dòng nào" in page
    for line in (4, 5, 6, 7):
        assert f'<th scope="row">{line}</th>' in page
    assert '<th scope="row">2</th>' not in page and '<th scope="row">3</th>' not in page
    assert "atlantis" in page and "dòng 2" in page
    assert volunteers() == {}


def test_valid_rows_only_when_asked(client, organizer):
    response = imported(client, HEADER + "".join(GOOD + BAD), valid_rows_only="y")
    assert "Đã nhập 2" in text(response)
    for line in (4, 5, 6, 7):  # the report still lists the bad rows
        assert f'<th scope="row">{line}</th>' in text(response)
    found = volunteers()
    assert set(found) == {"an@example.vn", "binh@example.vn"}
    an = found["an@example.vn"]
    assert an.is_expert and an.skills == ["smartphone_basics", "e_payment"]
    assert [(w.weekday, w.start_minute, w.end_minute) for w in an.availability] == [
        (1, 1080, 1260),
        (5, 480, 720),
    ]
    assert found["binh@example.vn"].accessibility_skills == ["sign_language"]


def test_a_clean_file_imports_every_row(client, organizer):
    response = imported(client, "\ufeff" + HEADER + "".join(GOOD))
    assert response.status_code == 200 and "Đã nhập 2 tình nguyện viên" in text(response)
    assert "Chưa nhập" not in text(response) and len(volunteers()) == 2
    again = imported(client, HEADER + "".join(GOOD))
    assert "Chưa nhập dòng nào" in text(again) and len(volunteers()) == 2  # emails taken


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,email\nA,a@b.vn\n", "Thiếu cột"),
        (HEADER.strip() + ",shoe_size\n", "Cột không rõ"),
    ],
)
def test_files_with_wrong_columns_are_refused(client, organizer, content, message):
    response = upload(client, "/organize/volunteers/import", content)
    assert response.status_code == 422 and message in text(response)


def test_a_non_utf8_file_gets_a_field_error(client, organizer):
    token = csrf_token(client, "/organize/volunteers/import")
    response = client.post(
        "/organize/volunteers/import",
        data={"csrf_token": token, "file": (io.BytesIO("Nguyễn".encode("utf-16")), "file.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "UTF-8" in text(response)


@pytest.fixture
def admin(client, make_user, wards):
    user = make_user("admin")
    log_in(client, user.email)
    return user


def test_admin_changes_roles_but_not_their_own(client, admin, make_user):
    volunteer = make_user("volunteer")
    token = csrf_token(client, "/admin/users")
    client.post(
        f"/admin/users/{volunteer.id}",
        data={"csrf_token": token, "role": "organizer", "active": "1"},
    )
    client.post(
        f"/admin/users/{admin.id}", data={"csrf_token": token, "role": "volunteer", "active": "1"}
    )
    client.post(
        f"/admin/users/{volunteer.id}", data={"csrf_token": token, "role": "emperor", "active": "1"}
    )
    db.session.rollback()
    assert db.session.get(User, volunteer.id).role == "organizer"
    assert db.session.get(User, admin.id).role == "admin"
    page = text(client.get("/admin/users?q=organizer"))
    assert volunteer.email in page and admin.email not in page


def test_the_users_page_comes_a_page_at_a_time(client, admin, make_user):
    emails = sorted([admin.email, *(make_user("volunteer").email for _ in range(4))])
    first = client.get("/admin/users?limit=2").get_data(as_text=True)
    assert [e for e in emails if e in first] == emails[:2] and 'rel="next"' in first
    last = client.get("/admin/users?limit=2&offset=4").get_data(as_text=True)
    assert [e for e in emails if e in last] == emails[4:] and 'rel="prev"' in last
    assert 'rel="next"' not in last


def test_organizers_cannot_open_admin_pages(client, organizer):
    response = client.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_reference_imports_wards_and_framework_or_nothing(client, admin):
    wards_csv = "code,name,name_en,district,neighbors\nmoi,Phường Mới,New ward,,kim_lien\n"
    ok = upload(client, "/admin/reference", wards_csv, kind="wards")
    assert ok.status_code == 302
    db.session.rollback()
    assert db.session.get(Ward, "moi").name == "Phường Mới"
    assert "kim_lien" in {w.code for w in db.session.get(Ward, "moi").neighbors}

    bad = upload(client, "/admin/reference", "code,name,neighbors\nx,,atlantis\n", kind="wards")
    assert bad.status_code == 422 and "row 1" in text(bad)
    assert db.session.get(Ward, "x") is None

    framework = {
        "areas": [
            {
                "code": "9",
                "name": "Lĩnh vực mới",
                "competences": [{"code": "9.1", "name": "Năng lực mới"}],
            }
        ]
    }
    done = upload(client, "/admin/reference", json.dumps(framework), kind="competences")
    assert done.status_code == 302
    db.session.rollback()
    assert db.session.get(Competence, "9.1").area_code == "9"
    broken = upload(client, "/admin/reference", "{not json", kind="competences")
    assert broken.status_code == 422 and "định dạng" in text(broken)
