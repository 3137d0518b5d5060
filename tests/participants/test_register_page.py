"""A parent or teacher registering someone at a venue: the form starts from the session's
ward and target group, asks for whom, wants the registrant's own contact when it is for
someone else, and the rate limit per connection keeps everything typed (429)."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.bookings.models import Registration
from coordinator.extensions import db
from tests.conftest import sibling_app
from tests.page_helpers import csrf_token, text


def entry(session_id: int, **overrides) -> dict:
    return {
        "full_name": "Đỗ Minh Khôi",
        "ward": "kim_lien",
        "target_group": "students",
        "contact": "",
        "guardian_contact": "0912345678",
        "for_whom": "other",
        "consent": "y",
        **overrides,
    }


def test_the_form_starts_from_the_session(client, make_session):
    session = make_session(ward="kim_lien", target_group="students")
    page = text(client.get(f"/sessions/{session['id']}/register"))
    assert '<option selected value="kim_lien">' in page or 'value="kim_lien" selected' in page
    assert '<option selected value="students">' in page or 'value="students" selected' in page
    assert "Tôi đăng ký cho người khác" in page


def test_someone_else_needs_the_registrants_own_contact(client, make_session):
    session = make_session()
    path = f"/sessions/{session['id']}/register"
    refused = client.post(
        path,
        data={**entry(session["id"], guardian_contact=""), "csrf_token": csrf_token(client, path)},
    )
    assert refused.status_code == 422
    assert "ghi số điện thoại hoặc email của chính bạn" in text(refused)
    assert 'value="Đỗ Minh Khôi"' in text(refused)
    assert db.session.scalar(sa.select(sa.func.count(Registration.id))) == 0


def test_the_limit_per_connection_keeps_what_was_typed(app, make_session):
    session = make_session()
    limited = sibling_app(app, RATELIMIT_ENABLED=True, RATE_LIMIT_SIGNUP="2 per minute")
    client = limited.test_client()
    path = f"/sessions/{session['id']}/register"
    for name in ("Đỗ Minh Khôi", "Lê Thu Trang"):
        data = {**entry(session["id"], full_name=name), "csrf_token": csrf_token(client, path)}
        assert client.post(path, data=data).status_code == 200
    data = {
        **entry(session["id"], full_name="Phạm Gia Huy", guardian_contact="0987654321"),
        "csrf_token": csrf_token(client, path),
    }
    limited_page = client.post(path, data=data)
    assert limited_page.status_code == 429
    assert 0 < int(limited_page.headers["Retry-After"]) <= 60
    page = text(limited_page)
    assert "mọi thông tin bạn đã nhập vẫn được giữ" in page
    assert 'value="Phạm Gia Huy"' in page and 'value="0987654321"' in page
    assert 'id="for-other" name="for_whom" value="other" checked' in page
    assert "<title>Lỗi:" in page
