"""Fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL) and a real
Redis (TEST_REDIS_URL; else an empty database of 127.0.0.1:6379, found the way RQ's own
suite finds one; else an embedded redis-server), emptied around every test."""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import sqlalchemy as sa
from flask_migrate import upgrade

from config import TestConfig
from coordinator import create_app
from coordinator.database import utcnow
from coordinator.extensions import db

LOCAL_REDIS = "redis://127.0.0.1:6379/{number}"
# Databases a run may take, as in RQ's suite: the low ones are left to people's own use.
TEST_REDIS_DATABASES = range(4, 16)
# Written into the database a run takes (and again after each test empties it), so that
# a second run starting beside this one looks further.
CLAIM_KEY = "squads-tests:claimed-by"
PASSWORD = "correct-horse-battery"


# Frees a database whose claim names a process that no longer runs (a run that was
# killed, or one given TEST_REDIS_URL, leaves its claim behind), and only then.
_RELEASE_STALE_CLAIM = """
if redis.call('dbsize') == 1 and redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _claim_is_stale(client: redis.Redis) -> bool:
    """The database holds nothing but a claim by a process of this machine that is gone."""
    if client.dbsize() != 1:
        return False
    owner = client.get(CLAIM_KEY)
    if owner is None or not owner.isdigit():
        return False
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return bool(client.eval(_RELEASE_STALE_CLAIM, 1, CLAIM_KEY, owner))
    except PermissionError:
        return False  # alive, another user's
    return False


def _empty_local_redis() -> str | None:
    """The first empty database of the local Redis, claimed; None when none answers."""
    for number in TEST_REDIS_DATABASES:
        client = redis.Redis.from_url(LOCAL_REDIS.format(number=number), socket_connect_timeout=0.5)
        try:
            if client.dbsize() == 1:
                _claim_is_stale(client)
            if client.dbsize() == 0 and client.set(CLAIM_KEY, os.getpid(), nx=True):
                return LOCAL_REDIS.format(number=number)
        except redis.RedisError:
            return None
        finally:
            client.close()
    pytest.exit("no empty Redis database (4-15) on 127.0.0.1:6379: set TEST_REDIS_URL", 2)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return TestConfig.SQLALCHEMY_DATABASE_URI or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if TestConfig.REDIS_URL:
        yield TestConfig.REDIS_URL
        return
    local = _empty_local_redis()
    if local is not None:
        yield local
        redis.Redis.from_url(local).flushdb()  # give the database back empty
        return
    from coordinator.redis_connection import embedded_redis_url

    yield embedded_redis_url(str(tmp_path_factory.mktemp("redis") / "test.rdb"))


def _config(database_url: str, redis_url: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": TestConfig.SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "EMBEDDED_REDIS_PATH": str(tmp_path / "unused.rdb"),
        "OUTBOX_SWEEP_MIN_AGE_SECONDS": 0,
        "PASSWORD_HASH_TIME_COST": TestConfig.PASSWORD_HASH_TIME_COST,
        "PASSWORD_HASH_MEMORY_KIB": TestConfig.PASSWORD_HASH_MEMORY_KIB,
        "MATCHING_DEBOUNCE_SECONDS": TestConfig.MATCHING_DEBOUNCE_SECONDS,
        "MAIL_SERVER": None,  # messages go to a per-test outbox folder
        "MAIL_OUTBOX_PATH": str(tmp_path / "outbox"),
        # tests/app/test_rate_limits.py turns them on; elsewhere one address makes every call.
        "RATELIMIT_ENABLED": False,
    }


def sibling_app(app, **overrides):
    """Another app on the test app's configuration (its database, Redis, mail folder),
    with `overrides`: a second process, or the same service on another Redis."""
    keys = _config("", "", Path()).keys()
    return create_app({**{key: app.config[key] for key in keys}, **overrides})


@pytest.fixture(scope="session")
def _migrated(database_url, redis_url, tmp_path_factory):
    """Build the schema once per run with the real migrations."""
    app = create_app(_config(database_url, redis_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return True


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture
def app(_migrated, database_url, redis_url, tmp_path):
    app = create_app(_config(database_url, redis_url, tmp_path))
    with app.app_context():
        _empty_tables()
        redis_client = redis.Redis.from_url(redis_url)
        _empty_redis(redis_client)
        yield app
        db.session.remove()
        _empty_redis(redis_client)
        redis_client.close()
        db.engine.dispose()


def _empty_redis(client: redis.Redis) -> None:
    client.flushdb()
    client.set(CLAIM_KEY, os.getpid())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis_client(app):
    from coordinator.extensions import redis_connection

    return redis_connection.client


@pytest.fixture
def wards(app):
    """The demo district's wards (Đống Đa), imported through the real importer."""
    from coordinator.demo import DATA
    from coordinator.geography.operations import import_wards_file

    import_wards_file(DATA / "wards_dong_da.json")
    db.session.commit()
    return ["cat_linh", "hang_bot", "kim_lien", "van_mieu_quoc_tu_giam", "lang_thuong"]


@pytest.fixture
def competences(app):
    from coordinator.competences.operations import import_framework_file

    import_framework_file()
    db.session.commit()


_counter = itertools.count(1)


@pytest.fixture
def make_user(app):
    """Create a login: make_user("organizer") -> User."""
    from coordinator.people.operations import create_user

    def make(role: str = "volunteer", email: str | None = None, password: str = PASSWORD):
        user = create_user(email or f"{role}{next(_counter)}@example.vn", role, password)
        db.session.commit()
        return user

    return make


@pytest.fixture
def auth_headers(client):
    """Bearer headers for a user, obtained through the real token endpoint."""

    def headers(user, password: str = PASSWORD) -> dict:
        response = client.post(
            "/api/v1/auth/tokens", json={"email": user.email, "password": password}
        )
        assert response.status_code == 201, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    return headers


@pytest.fixture
def organizer_headers(make_user, auth_headers):
    return auth_headers(make_user("organizer"))


@pytest.fixture
def volunteer_payload():
    def payload(**overrides) -> dict:
        n = next(_counter)
        data = {
            "full_name": f"Nguyễn Thị Lan {n}",
            "email": f"lan{n}@example.vn",
            "home_ward": "kim_lien",
            "skills": ["smartphone_basics"],
            "languages": ["vi"],
            "accessibility_skills": [],
            "is_expert": False,
            "availability": [{"weekday": 1, "start": "18:00", "end": "20:00"}],
            "max_sessions_per_week": 2,
        }
        data.update(overrides)
        return data

    return payload


def default_session_start() -> datetime:
    """18:00 Hanoi time on the first Tuesday at least seven days ahead: inside the default
    volunteer's availability (Tuesday 18:00-20:00), so an organizer assigns them without an
    override, and far enough ahead for every reminder."""
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    day = (utcnow() + timedelta(days=7)).astimezone(hanoi).date()
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=hanoi)


@pytest.fixture
def session_payload():
    def payload(**overrides) -> dict:
        starts = default_session_start()
        data = {
            "title": "Sử dụng điện thoại thông minh",
            "description": "Buổi học thực hành",
            "competence_area": "1",
            "target_group": "residents",
            "ward": "kim_lien",
            "venue": "Nhà văn hóa phường Kim Liên",
            "venue_accessibility": ["wheelchair"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 25,
            "roles": [
                {"role": "lead", "count": 1, "required_skills": ["smartphone_basics"]},
                {"role": "helper", "count": 2, "required_skills": []},
            ],
            "participant_needs": [],
        }
        data.update(overrides)
        return data

    return payload


@pytest.fixture
def make_volunteer(client, volunteer_payload, auth_headers, make_user, wards):
    """A volunteer who signed up through the API: returns (volunteer_id, bearer headers)."""
    from coordinator.people.models import User

    def make(**overrides) -> tuple[int, dict]:
        expert = overrides.pop("is_expert", False)
        data = volunteer_payload(**overrides)
        response = client.post("/api/v1/volunteers", json={**data, "password": PASSWORD})
        assert response.status_code == 201, response.json
        volunteer_id = response.json["id"]
        if expert:  # only an organizer vouches for an expert
            organizer = auth_headers(make_user("organizer"))
            vouched = client.patch(
                f"/api/v1/volunteers/{volunteer_id}", json={"is_expert": True}, headers=organizer
            )
            assert vouched.status_code == 200, vouched.json
        user = db.session.get(User, response.json["user_id"])
        return volunteer_id, auth_headers(user)

    return make


@pytest.fixture
def make_session(client, organizer_headers, session_payload, wards, competences):
    """A published session created through the API: returns its JSON."""

    def make(**overrides) -> dict:
        response = client.post(
            "/api/v1/sessions", json=session_payload(**overrides), headers=organizer_headers
        )
        assert response.status_code == 201, response.json
        return response.json

    return make


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback that the app sends to; yields what it received."""
    from tests.notifications.notification_helpers import smtp_server

    yield from smtp_server(app)


@pytest.fixture
def clock(app, monkeypatch):
    """A clock the tests move, read by the app and by RQ's scheduler."""
    from tests.notifications.notification_helpers import use_clock

    return use_clock(app, monkeypatch)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, to stop, fill or restart (fault tests)."""
    from tests.jobs.fault_helpers import RedisServer
    from tests.notifications.notification_helpers import free_port

    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()
