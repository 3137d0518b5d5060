"""The volunteers' CSV import as an organizer meets it: a template to fill in, names as
well as codes, every problem of every row at once in plain words, no guessing, and a
list of who was imported."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from tests.page_helpers import log_in, text
from tests.people.test_import_and_admin_pages import HEADER, imported

PATH = "/organize/volunteers/import"


def _organizer(client, make_user):
    log_in(client, make_user("organizer").email)


def test_the_template_has_an_example_row_that_imports_as_it_is(client, make_user, wards):
    _organizer(client, make_user)
    template = client.get(f"{PATH}/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    body = template.get_data(as_text=True)
    assert body.startswith("\ufeffHọ và tên,Email,Số điện thoại,Phường/xã,")
    assert "Nguyễn Thị Lan" in body
    page = text(imported(client, body))
    assert "Đã nhập 1 tình nguyện viên" in page
    lan = db.session.scalar(sa.select(Volunteer))
    assert lan.skills == ["smartphone_basics", "cyber_safety"]
    assert lan.accessibility_skills == ["sign_language"] and lan.languages == ["vi", "en"]
    assert lan.is_expert is False and lan.max_sessions_per_week == 2


def test_the_import_page_lists_the_codes_with_their_names(client, make_user, wards):
    _organizer(client, make_user)
    page = text(client.get(PATH))
    assert f"{PATH}/template.csv" in page
    assert "<code>sign_language</code>: Ngôn ngữ ký hiệu" in page
    assert "<code>smartphone_basics</code>: Điện thoại thông minh cơ bản" in page


def test_every_problem_of_every_row_is_reported_at_once_without_guessing(client, make_user, wards):
    _organizer(client, make_user)
    rows = [
        # line 2: three problems in one row
        "Lê Văn Cường,cuong@example.vn,,kim_lien,juggling,vi,,maybe,0,\n",
        # line 3: an unknown need and a bad window, and no email
        "Phạm Thị Dung,,,kim_lien,,,telepathy,có,2,Thứ Hai sáng\n",
        # line 4: fine
        "Hoàng Văn Em,em@example.vn,,kim_lien,An toàn trên mạng,Tiếng Việt,,không,1,\n",
    ]
    page = text(imported(client, HEADER + "".join(rows)))
    assert "Chưa nhập dòng nào" in page
    for words in (
        "Kỹ năng: “juggling” không thuộc các mã",
        "Chuyên gia: “maybe” không phải có hoặc không.",
        "Số buổi tối đa mỗi tuần: “0”: cần một số nguyên từ 1 đến 14.",
        "Năng lực hỗ trợ tiếp cận: “telepathy” không thuộc các mã",
        "Thời gian rảnh: “Thứ Hai sáng”: hãy viết theo dạng “T3 18:00-21:00”.",
        "Email: Cột này đang trống.",
    ):
        assert words in page, words
    assert '<th scope="row">4</th>' not in page
    assert " / " not in page.split('id="report-heading"')[1].split("</table>")[0]
    # No raw field code opens a message.
    assert "max_sessions_per_week:" not in page and "is_expert:" not in page
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Volunteer)) == 0


def test_the_result_lists_who_was_imported_and_how_they_take_part(client, make_user, wards):
    _organizer(client, make_user)
    rows = [
        "Trần Văn Bình,binh@example.vn,,kim_lien,,,,,2,\n",
        "Nguyễn Thị Ánh,anh@example.vn,,kim_lien,,,,yes,3,\n",
    ]
    page = text(imported(client, HEADER + "".join(rows)))
    assert "Tình nguyện viên đã nhập" in page and "không cần mật khẩu" in page
    listed = page.split('id="imported-heading"')[1]
    assert listed.index("Nguyễn Thị Ánh") < listed.index("Trần Văn Bình")  # Ánh before Bình
    assert "anh@example.vn" in listed and "binh@example.vn" in listed


def test_an_english_report_for_an_organizer_who_reads_english(client, make_user, wards):
    user = make_user("organizer")
    user.locale = "en"
    db.session.commit()
    log_in(client, user.email)
    page = text(imported(client, HEADER + "Lê Văn Cường,cuong@example.vn,,kim_lien,,,,maybe,2,\n"))
    assert "Expert: “maybe” is neither yes nor no (có / không)." in page
