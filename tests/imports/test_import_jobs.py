"""CSV imports as RQ jobs: the upload stores the file and redirects to a status page, a
real in-process worker imports it, the page shows the progress and then the report; the
file's text is gone afterwards and a second run of the job imports nothing twice."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker
from rq.job import Job

from coordinator.extensions import db
from coordinator.imports.models import ImportJob
from coordinator.people.models import Volunteer
from jobs.imports import run_import
from tests.api_helpers import assert_error
from tests.page_helpers import csrf_token, log_in, text

HEADER = (
    "full_name,email,phone,home_ward,skills,languages,accessibility_skills,is_expert,"
    "max_sessions_per_week,availability\n"
)
PATH = "/organize/volunteers/import"


def rows(count: int) -> str:
    return "".join(
        f"Nguyễn Văn {i},v{i}@example.vn,09{i:08d},kim_lien,smartphone_basics,vi,,có,2,"
        "T3 18:00-21:00\n"
        for i in range(count)
    )


def upload(client, content: str, **fields):
    token = csrf_token(client, PATH)
    data = {"csrf_token": token, "file": (io.BytesIO(content.encode()), "file.csv"), **fields}
    return client.post(PATH, data=data, content_type="multipart/form-data")


def run_the_import(redis_client) -> None:
    """A real RQ worker in this process: the events queued so far (one of them enqueues
    the import's job), then that job; the volunteers' own events are left queued."""
    waiting = len(Queue("default", connection=redis_client))
    SimpleWorker(["default"], connection=redis_client).work(burst=True, max_jobs=waiting + 1)


def the_import(import_id: int) -> ImportJob:
    db.session.rollback()
    return db.session.get(ImportJob, import_id)


def count_volunteers() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count(Volunteer.id)))


@pytest.fixture
def organizer(client, make_user, wards):
    user = make_user("organizer")
    log_in(client, user.email)
    return user


@pytest.mark.slow
def test_five_thousand_rows_import_through_the_page(client, organizer, redis_client):
    response = upload(client, HEADER + rows(5000))
    assert response.status_code == 303
    import_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert the_import(import_id).status == "queued" and the_import(import_id).file_text
    queued = text(client.get(f"/organize/imports/{import_id}"))
    assert "<progress" in queued and 'http-equiv="refresh"' in queued

    run_the_import(redis_client)

    job = the_import(import_id)
    assert (job.status, job.rows, job.created, job.errors) == ("finished", 5000, 5000, {})
    assert job.file_text is None  # names and phones are not kept once imported
    assert len(job.result["ids"]) == 5000
    assert count_volunteers() == 5000
    page = client.get(f"/organize/imports/{import_id}")
    assert page.status_code == 200
    assert "Đã nhập 5000 tình nguyện viên" in text(page) and 'value="100"' in text(page)
    assert client.get(f"/organize/imports/{import_id}/progress").json == {
        "status": "finished",
        "progress": {"stage": "done", "fraction": 1.0},
    }


def test_the_page_shows_the_progress_while_the_job_runs(client, organizer, redis_client):
    import_id = int(upload(client, HEADER + rows(3)).headers["Location"].rsplit("/", 1)[1])
    # What the worker writes while it works: the row says running, the job's meta the
    # fraction done.
    job = the_import(import_id)
    job.status = "running"
    db.session.commit()
    rq_job = Queue("default", connection=redis_client).enqueue(
        "jobs.imports.run_import", import_id, job_id=job.job_id
    )
    rq_job.meta["progress"] = {"stage": "importing", "fraction": 0.42}
    rq_job.save_meta()

    progress = client.get(f"/organize/imports/{import_id}/progress").json
    assert progress == {"status": "running", "progress": {"stage": "importing", "fraction": 0.42}}
    page = text(client.get(f"/organize/imports/{import_id}"))
    assert 'value="42"' in page and "Đang chạy" in page


def test_bad_rows_are_all_reported_and_nothing_is_imported(client, organizer, redis_client):
    bad = (
        "Lê Văn Cường,not-an-email,,kim_lien,,,,,2,\n"  # line 3
        "Phạm Thị Dung,dung@example.vn,,atlantis,,,,,2,\n"  # line 4
        "Nguyễn Văn 0 bis,V0@example.vn,,kim_lien,,,,,2,\n"  # line 5: as line 2
    )
    response = upload(client, HEADER + rows(1) + bad)
    import_id = int(response.headers["Location"].rsplit("/", 1)[1])
    run_the_import(redis_client)

    job = the_import(import_id)
    assert job.status == "finished" and job.created == 0 and job.file_text is None
    assert set(job.errors) == {"3", "4", "5"}
    page = text(client.get(f"/organize/imports/{import_id}"))
    assert "Chưa nhập dòng nào" in page and "atlantis" in page and "dòng 2" in page
    for line in (3, 4, 5):
        assert f'<th scope="row">{line}</th>' in page
    assert count_volunteers() == 0


def test_a_finished_import_is_left_alone(client, organizer, redis_client):
    import_id = int(upload(client, HEADER + rows(2)).headers["Location"].rsplit("/", 1)[1])
    run_the_import(redis_client)
    assert the_import(import_id).created == 2

    assert run_import(import_id) == "finished"  # the job again, as a retry would run it

    assert count_volunteers() == 2 and the_import(import_id).created == 2
    assert run_import(999999) == "missing"


def test_one_job_per_import(client, organizer, redis_client):
    import_id = int(upload(client, HEADER + rows(1)).headers["Location"].rsplit("/", 1)[1])
    run_the_import(redis_client)
    job = Job.fetch(f"import-{import_id}", connection=redis_client)
    assert job.get_status() == "finished" and job.args == (import_id,)  # an id, no data


def test_a_wrong_header_is_refused_at_once(client, organizer):
    response = upload(client, "name,email\nA,a@b.vn\n")
    assert response.status_code == 422 and "Thiếu cột" in text(response)
    assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0


def test_the_api_reports_an_import(client, wards, organizer_headers, make_volunteer, redis_client):
    csv = "ward,target_group,year,baseline,target_percent\nkim_lien,residents,2026,100,80\n"
    response = client.post(
        "/api/v1/progress/targets", data=csv, content_type="text/csv", headers=organizer_headers
    )
    assert response.status_code == 202
    assert response.json["status_url"] == f"/api/v1/imports/{response.json['id']}"
    run_the_import(redis_client)
    body = client.get(response.json["status_url"], headers=organizer_headers).json
    assert (body["status"], body["created"], body["rows"], body["errors"]) == (
        "finished",
        1,
        1,
        {},
    )
    _, volunteer_headers = make_volunteer()
    assert_error(client.get(response.json["status_url"], headers=volunteer_headers), 403)
    assert_error(client.get("/api/v1/imports/999999", headers=organizer_headers), 404)
