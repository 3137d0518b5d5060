"""matching runs: coalescing key, event id, proposals and stats

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coalesce_key", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("proposals", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("stats", JSON, nullable=False, server_default="{}"))
        batch_op.create_index(
            "uq_matching_runs_queued_window",
            ["coalesce_key"],
            unique=True,
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        )


def downgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.drop_index("uq_matching_runs_queued_window")
        batch_op.drop_column("stats")
        batch_op.drop_column("proposals")
        batch_op.drop_column("event_id")
        batch_op.drop_column("coalesce_key")
