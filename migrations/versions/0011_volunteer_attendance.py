"""volunteer attendance: what the lead recorded per booking (attended, late, no_show,
excused), by whom and when

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATUSES = ("attended", "late", "no_show", "excused")


def upgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attendance", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("attendance_recorded_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("attendance_recorded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_assignments_attendance_recorded_by_users"),
            "users",
            ["attendance_recorded_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            "attendance", f"attendance IS NULL OR attendance IN {STATUSES!r}"
        )


def downgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_assignments_attendance"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_assignments_attendance_recorded_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("attendance_recorded_at")
        batch_op.drop_column("attendance_recorded_by")
        batch_op.drop_column("attendance")
