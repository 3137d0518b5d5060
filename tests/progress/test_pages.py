"""The organizers' progress page: table, accessible SVG charts, CSV export; who may see it."""

from __future__ import annotations

import re

import pytest

from tests.page_helpers import log_in, text
from tests.progress.test_figures import hand_computed  # noqa: F401 - the shared fixture


@pytest.fixture
def organizer_page(client, make_user):
    log_in(client, make_user("organizer").email)


@pytest.mark.usefixtures("hand_computed")
def test_the_page_shows_the_figures_as_a_table_and_as_charts(client, organizer_page):
    response = client.get("/organize/progress?year=2025")

    assert response.status_code == 200
    page = text(response)
    assert "Tiến độ" in page  # Vietnamese by default
    # Kim Liên residents: baseline 1.000, target 800, enrolled 5, reached 104, 10,4 %, 696.
    row = re.search(
        r"<th scope=\"row\">Phường Kim Liên</th>\s*<td>Người dân</td>(.*?)</tr>", page, re.S
    )
    assert row, page
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[:6] == ["1.000", "80", "800", "5", "104", "10,4"]
    assert cells[6].startswith("696")
    # Two charts, each an image with a title and a description that carries the numbers.
    charts = re.findall(r"<svg[^>]*>.*?</svg>", page, re.S)
    assert len(charts) == 2
    for chart in charts:
        labelled = re.search(r'role="img" aria-labelledby="([\w-]+) ([\w-]+)"', chart)
        assert labelled
        assert f'<title id="{labelled.group(1)}">' in chart
        assert f'<desc id="{labelled.group(2)}">' in chart
    ward_description = re.search(r"<desc[^>]*>(.*?)</desc>", charts[0], re.S).group(1)
    assert "Phường Kim Liên: " in ward_description
    assert "105" in ward_description and "1.100" in ward_description  # reached of target
    group_description = re.search(r"<desc[^>]*>(.*?)</desc>", charts[1], re.S).group(1)
    assert "Người dân: " in group_description and "110" in group_description
    assert "943" in group_description
    # Nothing fetched from elsewhere, no script for the charts (only the forms' one).
    assert (
        re.findall(r"<script[^>]*>", page) == ['<script src="/static/forms.js" defer>']
        and "https://" not in page
    )
    assert 'href="/organize/progress.csv?year=2025"' in page


@pytest.mark.usefixtures("hand_computed")
def test_filters_and_a_bad_year(client, organizer_page):
    only = text(client.get("/organize/progress?year=2025&ward=hang_bot"))
    assert "Phường Hàng Bột" in only and "<td>Người dân</td>" not in only

    bad = client.get("/organize/progress?year=abc")
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in text(bad)


@pytest.mark.usefixtures("hand_computed")
def test_the_page_csv_matches_the_api_csv(client, organizer_page, organizer_headers):
    page_csv = client.get("/organize/progress.csv?year=2025")
    api_csv = client.get("/api/v1/progress.csv?year=2025", headers=organizer_headers)

    assert page_csv.status_code == 200 and page_csv.mimetype == "text/csv"
    assert page_csv.get_data() == api_csv.get_data()


def test_csv_downloads_are_streamed_in_chunks(client, organizer_page, monkeypatch):
    from coordinator.progress import exports

    monkeypatch.setattr(exports, "CHUNK_ROWS", 1)
    for path in ("/organize/progress.csv?year=2025", "/organize/hours.csv"):
        response = client.get(path, buffered=False)
        assert response.is_streamed, path
        chunks = list(response.response)
        response.close()
        lines = b"".join(chunks).decode("utf-8-sig").splitlines()
        # One chunk per data row (the header rides with the first), and one last chunk.
        assert len(chunks) == max(len(lines) - 1, 0) + 1, path
        assert lines[0].startswith(("year,", "volunteer_id,"))


def test_an_empty_year_says_so(client, app, wards, organizer_page):
    page = text(client.get("/organize/progress?year=2030"))
    assert "2030" in page
    assert "<svg" not in page


def test_only_organizers_see_the_pages(client, make_user, wards):
    for path in ("/organize/progress", "/organize/hours", "/organize/progress.csv"):
        assert client.get(path).status_code == 302  # to the login page
    log_in(client, make_user("volunteer").email)
    for path in ("/organize/progress", "/organize/hours", "/organize/hours.csv"):
        refused = client.get(path)
        assert refused.status_code == 302 and "/organize" not in refused.headers["Location"]


def test_the_dashboard_links_to_progress_and_hours(client, wards, organizer_page):
    page = text(client.get("/organize/"))
    assert 'href="/organize/progress"' in page and 'href="/organize/hours"' in page
