"""country: a partial index of the proposals by role (assignments whose status is
`proposed`), which the organizer's dashboard reads with the roles' seat counters instead
of counting every booking of their weeks

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_assignments_proposed_role",
        "assignments",
        ["role_id"],
        postgresql_where=sa.text("status = 'proposed'"),
        sqlite_where=sa.text("status = 'proposed'"),
    )


def downgrade():
    op.drop_index("ix_assignments_proposed_role", table_name="assignments")
