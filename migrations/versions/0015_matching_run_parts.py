"""matching run parts: a large run is split into parts, each a run of its own (kind
"part") pointing to the run it belongs to, with the wards whose volunteers it plans

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pool", JSON, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_matching_runs_parent_id_matching_runs"),
            "matching_runs",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_matching_runs_parent_id"), ["parent_id"])


def downgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matching_runs_parent_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_matching_runs_parent_id_matching_runs"), type_="foreignkey"
        )
        batch_op.drop_column("pool")
        batch_op.drop_column("parent_id")
