"""DATABASE_REPLICA_URL: the progress and hours reports read through the "replica" bind
(here pointed at the test database itself), the login checks and every write stay on
the primary; without it there is one engine. Statements counted per engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.models import Volunteer
from coordinator.replica import from_replica
from tests.conftest import sibling_app

REPORTS = (
    "/api/v1/progress",
    "/api/v1/progress?level=province",
    "/api/v1/progress.csv",
    "/api/v1/hours",
    "/api/v1/hours.csv?by=squad",
)


@contextmanager
def per_engine() -> Iterator[dict[str, list[str]]]:
    """The statements run on the primary and on the replica inside the block."""
    seen: dict[str, list[str]] = {"primary": [], "replica": []}
    hooks = []
    for name, engine in (("primary", db.engine), ("replica", db.engines["replica"])):

        def hook(_conn, _cursor, statement, *_args, name=name) -> None:
            seen[name].append(" ".join(statement.split()))

        sa.event.listen(engine, "before_cursor_execute", hook)
        hooks.append((engine, hook))
    try:
        yield seen
    finally:
        for engine, hook in hooks:
            sa.event.remove(engine, "before_cursor_execute", hook)


def _replica_app(app):
    return sibling_app(app, SQLALCHEMY_BINDS={"replica": app.config["SQLALCHEMY_DATABASE_URI"]})


def test_reports_read_through_the_replica(app, wards, make_user, auth_headers):
    headers = auth_headers(make_user("organizer"))
    replica_app = _replica_app(app)
    with replica_app.app_context():
        client = replica_app.test_client()
        for path in REPORTS:
            with per_engine() as seen:
                response = client.get(path, headers=headers)
                body = response.get_data()  # a CSV streams: read it inside the block
            assert response.status_code == 200, (path, body[:200])
            assert seen["replica"], path
            # The primary answers the login check only: the token and its user (SQLite
            # spells its transaction's BEGIN out).
            login = ("api_tokens", "FROM users")
            primary = [s for s in seen["primary"] if s != "BEGIN"]
            assert primary and all(any(t in s for t in login) for s in primary), (
                path,
                primary,
            )
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_writes_inside_a_replica_block_go_to_the_primary(app, wards):
    replica_app = _replica_app(app)
    with replica_app.app_context():
        with per_engine() as seen, from_replica():
            count = db.session.scalar(sa.select(sa.func.count()).select_from(Volunteer))
            db.session.add(
                Volunteer(full_name="Lê Văn Ba", email="ba@example.vn", home_ward="kim_lien")
            )
            db.session.flush()
            db.session.execute(sa.update(Volunteer).values(max_sessions_per_week=3))
            db.session.commit()
        assert count == 0
        assert [s.split()[0] for s in seen["replica"]] == ["SELECT"]
        assert any(s.startswith("INSERT INTO volunteers") for s in seen["primary"])
        assert any(s.startswith("UPDATE volunteers") for s in seen["primary"])
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_without_a_replica_there_is_one_engine(app, make_user, auth_headers):
    assert list(db.engines) == [None]
    response = app.test_client().get("/api/v1/hours", headers=auth_headers(make_user("organizer")))
    assert response.status_code == 200
