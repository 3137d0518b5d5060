"""The contract's commands: create-user, seed-demo, import-wards, relay-events."""

from __future__ import annotations

import json

import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.people.auth import verify_password
from coordinator.people.models import User


def test_create_user_makes_a_login_with_a_hashed_password(runner):
    result = runner.invoke(
        args=[
            "create-user",
            "Chi.Nguyen@Example.vn",
            "--role",
            "organizer",
            "--password",
            "mat-khau-dai-1",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "chi.nguyen@example.vn"))
    assert user.role == "organizer"
    assert user.password_hash.startswith("$argon2")
    assert verify_password(user, "mat-khau-dai-1")
    assert not verify_password(user, "wrong-password")


def test_create_user_refuses_a_duplicate_with_a_message_not_a_trace(runner, monkeypatch):
    args = ["create-user", "a@example.vn", "--role", "volunteer", "--password", "0123456789"]
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "Email này đã được dùng." in result.output  # a command speaks the default language
    assert "Traceback" not in result.output
    monkeypatch.setenv("LANG", "en_GB.UTF-8")  # an English terminal reads the rule in English
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "Email này" not in result.output
    assert "already" in result.output.lower()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_create_user_checks_role_password_and_email(runner):
    short = runner.invoke(
        args=["create-user", "b@example.vn", "--role", "admin", "--password", "short"]
    )
    assert short.exit_code == 1 and "10" in short.output
    role = runner.invoke(
        args=["create-user", "b@example.vn", "--role", "king", "--password", "0123456789"]
    )
    assert role.exit_code == 2 and "king" in role.output
    email = runner.invoke(
        args=["create-user", "not-an-email", "--role", "admin", "--password", "0123456789"]
    )
    assert email.exit_code == 1 and "not-an-email" in email.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_seed_demo_loads_hanoi_and_is_idempotent(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    # Hanoi's 126 units and the 17 wards of the former Dong Da district
    assert "wards: 143, demo wards: 11, organizers: 13" in first.output
    assert "squads: 5, sessions: 26" in first.output
    tables = (
        "wards",
        "ward_neighbors",
        "ward_successors",
        "organizer_scopes",
        "competences",
        "volunteers",
        "squads",
        "training_sessions",
        "participants",
        "registrations",
        "assessments",
        "population_targets",
        "users",
    )
    counts = {
        table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in tables
    }
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    again = {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in counts}
    assert again == counts
    assert counts["competences"] >= 26  # 6 areas, 20+ competences


def test_import_wards_reports_bad_rows_and_changes_nothing(runner, tmp_path):
    bad = tmp_path / "wards.json"
    bad.write_text(
        json.dumps({"wards": [{"code": "a", "name": "Phường A", "neighbors": ["zzz"]}]}),
        encoding="utf-8",
    )
    result = runner.invoke(args=["import-wards", str(bad)])
    assert result.exit_code == 1
    assert "zzz" in result.output
    assert db.session.scalar(sa.text("SELECT count(*) FROM wards")) == 0


def test_import_wards_from_csv_makes_neighbours_symmetric(runner, client, tmp_path):
    csv_file = tmp_path / "wards.csv"
    csv_file.write_text(
        "code,name,name_en,district,neighbors\n"
        "a,Phường A,Ward A,d,b\n"
        "b,Phường B,Ward B,d,\n"
        "c,Phường C,Ward C,d,b\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import-wards", str(csv_file)])
    assert result.exit_code == 0, result.output
    wards = {w["code"]: w["neighbors"] for w in client.get("/api/v1/wards").json}
    assert wards == {"a": ["b"], "b": ["a", "c"], "c": ["b"]}


def test_relay_events_command_enqueues_what_waits(app, runner, redis_client):
    from rq import Queue

    from coordinator.events import outbox

    app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False
    event = outbox.record("session.changed", "session", 1, {"ward": "kim_lien"})
    db.session.commit()
    result = runner.invoke(args=["relay-events"])
    assert result.exit_code == 0, result.output
    assert "enqueued 1 events" in result.output
    assert Queue("default", connection=redis_client).job_ids == [f"evt-{event.id}"]
