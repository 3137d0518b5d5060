"""matching runs remember the units they may plan (a scoped organizer's run)

Revision ID: 0007
Revises: 0006

NULL: every unit of the country (a national organizer's run, an automatic or a repair
run), as every run before this revision was.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("units", JSON, nullable=True))


def downgrade():
    with op.batch_alter_table("matching_runs", schema=None) as batch_op:
        batch_op.drop_column("units")
