"""The migrations build exactly the schema the models describe, on this database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from coordinator.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_capacity_rules_are_database_constraints(app, wards, competences):
    """CHECKs hold even if Python is bypassed: a role can never hold more than count."""
    import pytest
    import sqlalchemy as sa

    from coordinator.sessions.models import SessionRole

    db.session.execute(
        sa.text(
            "INSERT INTO training_sessions (title, description, competence_area, target_group,"
            " ward, venue, venue_accessibility, starts_at, ends_at, capacity, registered_count,"
            " participant_needs, languages, status, version, sequence, created_at, updated_at)"
            " VALUES ('t', '', '1', 'residents', 'kim_lien', 'v', '[]', :s, :e, 10, 0, '[]',"
            " '[\"vi\"]', 'published', 1, 0, :s, :s)"
        ),
        {"s": "2030-01-01 10:00:00+00", "e": "2030-01-01 12:00:00+00"},
    )
    session_id = db.session.scalar(sa.text("SELECT max(id) FROM training_sessions"))
    db.session.add(SessionRole(session_id=session_id, role="helper", count=1, taken=1))
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(SessionRole).values(taken=SessionRole.taken + 1))
        db.session.flush()
    db.session.rollback()
