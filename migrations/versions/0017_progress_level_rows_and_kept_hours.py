"""progress level rows and kept hours: the national progress report's rows at ward,
province and national level, and volunteers' and squads' hours per plan year, kept by
the counts' refresh job, and the change numbers (and moment) they hold

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "progress_level_rows",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("target_group", sa.String(length=32), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("reached_of_baseline", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=True),
        sa.Column("target", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("year", "level", "position", name=op.f("pk_progress_level_rows")),
    )
    op.create_table(
        "hours_kept",
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("home_ward", sa.String(length=64), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("volunteers", sa.Integer(), nullable=False),
        sa.Column("no_shows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("by", "year", "id", name=op.f("pk_hours_kept")),
    )
    op.create_index("ix_hours_kept_order", "hours_kept", ["by", "year", "minutes"])
    op.create_index("ix_training_sessions_ends_at", "training_sessions", ["ends_at"])
    with op.batch_alter_table("progress_counts_state") as batch:
        batch.add_column(
            sa.Column("hours_changes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column(
                "hours_refreshed_changes", sa.BigInteger(), nullable=False, server_default="-1"
            )
        )
        batch.add_column(sa.Column("hours_until", sa.DateTime(timezone=True), nullable=True))
        # -1: no rows kept yet (reports are computed until the next refresh)
        batch.add_column(
            sa.Column("levels_changes", sa.BigInteger(), nullable=False, server_default="-1")
        )
        batch.add_column(sa.Column("levels_first_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("levels_last_year", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("progress_counts_state") as batch:
        batch.drop_column("hours_until")
        batch.drop_column("hours_refreshed_changes")
        batch.drop_column("hours_changes")
        batch.drop_column("levels_last_year")
        batch.drop_column("levels_first_year")
        batch.drop_column("levels_changes")
    op.drop_index("ix_training_sessions_ends_at", table_name="training_sessions")
    op.drop_index("ix_hours_kept_order", table_name="hours_kept")
    op.drop_table("hours_kept")
    op.drop_table("progress_level_rows")
