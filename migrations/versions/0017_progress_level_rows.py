"""progress level rows: the national progress report's rows at ward, province and
national level, kept by the counts' refresh job, and the change number they hold

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
    with op.batch_alter_table("progress_counts_state") as batch:
        # -1: no rows kept yet (reports are computed until the next refresh)
        batch.add_column(
            sa.Column("levels_changes", sa.BigInteger(), nullable=False, server_default="-1")
        )
        batch.add_column(sa.Column("levels_first_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("levels_last_year", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("progress_counts_state") as batch:
        batch.drop_column("levels_last_year")
        batch.drop_column("levels_first_year")
        batch.drop_column("levels_changes")
    op.drop_table("progress_level_rows")
