"""Importing population baselines and targets from CSV: every bad row reported with its
line, nothing imported from a file with errors unless the valid rows are asked for."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from rq import SimpleWorker

from coordinator.extensions import db, redis_connection
from coordinator.progress.models import PopulationTarget
from coordinator.progress.targets import import_targets
from tests.api_helpers import assert_error
from tests.page_helpers import log_in, submit, text

HEADER = "ward,target_group,year,baseline,target_percent,reached_before\n"
GOOD = HEADER + "kim_lien,residents,2026,12000,80,1500\nkim_lien,students,2026,3000,100,\n"
# Line numbers are the file's own: line 8 is blank and skipped, line 11 is valid.
BAD = (
    HEADER  # 1
    + "kim_lien,residents,2026,1000,80,100\n"  # 2 valid
    + "atlantis,residents,2026,10,50,0\n"  # 3 unknown ward
    + "kim_lien,tourists,2026,10,50,\n"  # 4 unknown target group
    + "kim_lien,students,2026,12.5,50,\n"  # 5 baseline not a whole number
    + "kim_lien,workers,2026,100,120,\n"  # 6 percent above 100
    + "kim_lien,residents,2026,500,70,\n"  # 7 same key as line 2
    + "\n"  # 8 blank
    + "cat_linh,students,20x6,-5,abc,7\n"  # 9 three problems
    + "cat_linh,civil_servants,2026,10,50,11\n"  # 10 reached_before above the baseline
    + 'hang_bot,workers,2026,200,"12,5",\n'  # 11 valid (decimal comma, quoted)
    + "hang_bot,students,2026,,-1,\n"  # 12 baseline missing, percent below 0
)
# The report in the uploader's language: Vietnamese unless they chose English.
BAD_LINES = {
    3: ["ward: Không có phường 'atlantis'."],
    4: [
        "target_group: Không rõ nhóm 'tourists' "
        "(civil_servants, students, workers, residents, youth_disabilities)."
    ],
    5: ["baseline: '12.5' không phải số nguyên."],
    6: ["target_percent: 120 ngoài khoảng 0-100 (đây là phần trăm)."],
    7: ["Trùng phường, nhóm và năm với dòng 2."],
    9: [
        "year: '20x6' không phải số nguyên.",
        "baseline: phải từ 0 đến 2147483647.",
        "target_percent: 'abc' không phải số.",
    ],
    10: ["reached_before: không thể lớn hơn baseline."],
    12: [
        "baseline: Bắt buộc.",
        "target_percent: -1 ngoài khoảng 0-100 (đây là phần trăm).",
    ],
}
BAD_LINES_EN = {
    3: ["ward: Unknown ward 'atlantis'."],
    4: [
        "target_group: Unknown target group 'tourists' "
        "(civil_servants, students, workers, residents, youth_disabilities)."
    ],
    5: ["baseline: '12.5' is not a whole number."],
    6: ["target_percent: 120 is outside 0-100 (a percentage)."],
    7: ["Same ward, target group and year as line 2."],
    9: [
        "year: '20x6' is not a whole number.",
        "baseline: must be from 0 to 2147483647.",
        "target_percent: 'abc' is not a number.",
    ],
    10: ["reached_before: cannot be more than the baseline."],
    12: [
        "baseline: Required.",
        "target_percent: -1 is outside 0-100 (a percentage).",
    ],
}


def targets() -> set[tuple]:
    db.session.expire_all()
    return {
        (t.ward, t.target_group, t.year, t.baseline, t.target_percent, t.reached_before)
        for t in db.session.scalars(sa.select(PopulationTarget))
    }


def test_a_good_file_creates_then_updates(app, wards):
    report = import_targets(GOOD)
    db.session.commit()
    assert (report.created, report.updated, report.rows, report.errors) == (2, 0, 2, {})
    assert targets() == {
        ("kim_lien", "residents", 2026, 12000, 80.0, 1500),
        ("kim_lien", "students", 2026, 3000, 100.0, 0),
    }

    report = import_targets(HEADER + "kim_lien,residents,2026,12500,85.5,1600\n")
    db.session.commit()
    assert (report.created, report.updated) == (0, 1)
    assert ("kim_lien", "residents", 2026, 12500, 85.5, 1600) in targets()
    assert len(targets()) == 2


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(app, wards):
    import_targets(HEADER + "cat_linh,residents,2026,500,50,0\n")
    db.session.commit()

    report = import_targets(BAD)
    db.session.commit()

    assert report.errors == BAD_LINES
    assert (report.created, report.updated, report.rows) == (0, 0, 10)
    assert targets() == {("cat_linh", "residents", 2026, 500, 50.0, 0)}  # untouched


def test_valid_rows_only_imports_them_and_still_reports_the_others(app, wards):
    report = import_targets(BAD, valid_rows_only=True)
    db.session.commit()

    assert report.errors == BAD_LINES
    assert (report.created, report.updated) == (2, 0)
    assert targets() == {
        ("kim_lien", "residents", 2026, 1000, 80.0, 100),
        ("hang_bot", "workers", 2026, 200, 12.5, 0),
    }


@pytest.mark.parametrize(
    ("content", "message", "in_english"),
    [
        (
            "ward,target_group,year,baseline\n",
            "Thiếu cột: target_percent.",
            "Missing columns: target_percent.",
        ),
        (HEADER.strip() + ",note\n", "Cột không rõ: note.", "Unknown columns: note."),
        (
            "",
            "Thiếu cột: ward hoặc unit, target_group, year, baseline, target_percent.",
            "Missing columns: ward or unit, target_group, year, baseline, target_percent.",
        ),
    ],
)
def test_a_bad_header_is_reported_on_line_one(app, wards, content, message, in_english):
    report = import_targets(content + "kim_lien,residents,2026,10,50,0,x\n")
    assert report.errors == {1: [message]}
    with force_locale("en"):
        assert import_targets(content).errors == {1: [in_english]}
    assert targets() == set()


def test_reached_before_may_be_left_out(app, wards):
    report = import_targets(
        "\ufeffward,target_group,year,baseline,target_percent\nkim_lien,residents,2026,100,33.3\n"
    )
    assert report.ok and report.created == 1
    assert targets() == {("kim_lien", "residents", 2026, 100, 33.3, 0)}


def test_extra_cells_are_an_error(app, wards):
    report = import_targets(HEADER + "kim_lien,residents,2026,100,50,0,surprise\n")
    assert report.errors == {2: ["Thừa ô so với số cột của dòng tiêu đề."]}


# -- through the API -----------------------------------------------------------------------


def post_csv(client, headers, body, **query):
    return client.post(
        "/api/v1/progress/targets",
        data=body.encode() if isinstance(body, str) else body,
        content_type="text/csv",
        query_string=query,
        headers=headers,
    )


def work() -> None:
    """A real RQ worker, in this process, until the queue is empty."""
    SimpleWorker(["default"], connection=redis_connection.client).work(burst=True)


def imported(client, headers, body, **query) -> dict:
    """POST the file (202), let a worker import it, and GET the import's report."""
    response = post_csv(client, headers, body, **query)
    assert response.status_code == 202, response.json
    work()
    report = client.get(response.json["status_url"], headers=headers)
    assert report.status_code == 200 and report.json["status"] == "finished", report.json
    return report.json


def test_api_refuses_a_bad_header_at_once(client, wards, organizer_headers):
    body = assert_error(post_csv(client, organizer_headers, "ward,year\nkim_lien,2026\n"), 422)
    assert body["messages"] == {"1": ["Thiếu cột: target_group, baseline, target_percent."]}


def test_api_upload_reports_each_line_and_imports_nothing(client, wards, organizer_headers):
    body = imported(client, organizer_headers, BAD)

    assert body["errors"] == {str(line): messages for line, messages in BAD_LINES.items()}
    assert (body["created"], body["updated"]) == (0, 0)
    assert targets() == set()


def test_an_english_organizers_report_is_in_english(client, wards, make_user, auth_headers):
    organizer = make_user("organizer")
    organizer.locale = "en"
    db.session.commit()
    body = imported(client, auth_headers(organizer), BAD)

    assert body["errors"] == {str(line): messages for line, messages in BAD_LINES_EN.items()}


def test_api_upload_of_valid_rows_only(client, wards, organizer_headers):
    body = imported(client, organizer_headers, BAD, valid_rows_only="true")

    assert body["created"] == 2 and body["updated"] == 0
    assert body["errors"] == {str(k): v for k, v in BAD_LINES.items()}
    assert len(targets()) == 2


def test_api_upload_of_a_good_file(client, wards, organizer_headers):
    body = imported(client, organizer_headers, GOOD)

    assert {k: body[k] for k in ("created", "updated", "rows", "errors")} == {
        "created": 2,
        "updated": 0,
        "rows": 2,
        "errors": {},
    }
    again = imported(client, organizer_headers, GOOD)
    assert (again["created"], again["updated"]) == (0, 2)
    progress = client.get("/api/v1/progress?year=2026", headers=organizer_headers)
    assert [(r["ward"], r["target_group"], r["target"]) for r in progress.json["rows"]] == [
        ("kim_lien", "students", 3000),
        ("kim_lien", "residents", 9600),
    ]


def test_api_upload_wants_utf8_csv(client, wards, organizer_headers):
    assert_error(
        client.post("/api/v1/progress/targets", json={"csv": GOOD}, headers=organizer_headers),
        415,
        "content_type",
    )
    assert_error(
        client.post(
            "/api/v1/progress/targets",
            data={"file": (io.BytesIO(GOOD.encode()), "targets.csv")},
            headers=organizer_headers,
        ),
        415,
    )
    latin1 = (HEADER + "kim_lien,residents,2026,1000,80,0\n").encode() + "Đ".encode("cp1258")
    assert_error(post_csv(client, organizer_headers, latin1), 422, "_body")
    assert targets() == set()


# -- through the page ----------------------------------------------------------------------


@pytest.fixture
def organizer_page(client, make_user):
    log_in(client, make_user("organizer").email)


def upload(client, content: str, **extra):
    """Upload through the page, let a worker import it, and return the import's page."""
    response = submit(
        client,
        "/organize/progress/targets",
        {"file": (io.BytesIO(content.encode()), "targets.csv"), **extra},
        form_page="/organize/progress",
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, text(response)
    assert "/organize/imports/" in response.headers["Location"]
    work()
    return client.get(response.headers["Location"])


def test_page_upload_refuses_a_bad_header_at_once(client, wards, organizer_page):
    response = submit(
        client,
        "/organize/progress/targets",
        {"file": (io.BytesIO(b"ward,year\nkim_lien,2026\n"), "targets.csv")},
        form_page="/organize/progress",
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "Thiếu cột" in text(response)


def test_page_upload_shows_every_bad_row(client, wards, organizer_page):
    response = upload(client, BAD)

    assert response.status_code == 200
    page = text(response)
    assert "Chưa nhập dòng nào" in page  # "Nothing was imported", in the default Vietnamese
    for line, messages in BAD_LINES.items():
        assert f'<th scope="row">{line}</th>' in page
        for message in messages:
            assert message.replace("'", "&#39;") in page
    assert targets() == set()


def test_page_upload_of_valid_rows_only_and_of_a_good_file(client, wards, organizer_page):
    partial = upload(client, BAD, valid_rows_only="y")
    for line in BAD_LINES:  # the report of the rows left out is still shown
        assert f'<th scope="row">{line}</th>' in text(partial)
    assert len(targets()) == 2

    good = upload(client, GOOD)  # Kim Liên residents again (updated), students (new)
    assert "Các dòng có lỗi" not in text(good)
    assert "Đã lưu chỉ tiêu: 1 mới, 1 cập nhật" in text(good)
    assert targets() == {
        ("kim_lien", "residents", 2026, 12000, 80.0, 1500),
        ("kim_lien", "students", 2026, 3000, 100.0, 0),
        ("hang_bot", "workers", 2026, 200, 12.5, 0),
    }
