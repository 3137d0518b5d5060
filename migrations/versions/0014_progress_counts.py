"""progress counts: people first enrolled and first reached per unit, group and plan year
(a summary refreshed by a job), and how many changes the summary holds

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "progress_counts",
        sa.Column("ward", sa.String(length=64), nullable=False),
        sa.Column("target_group", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ward", "target_group", "year", name=op.f("pk_progress_counts")),
    )
    state = op.create_table(
        "progress_counts_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_changes", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_counts_state")),
    )
    # Stale until the first refresh: reports count raw rows meanwhile.
    op.bulk_insert(state, [{"id": 1, "changes": 0, "refreshed_changes": -1}])


def downgrade():
    op.drop_table("progress_counts_state")
    op.drop_table("progress_counts")
