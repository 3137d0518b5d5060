"""booking lifecycle: proposals hold their seat until `answer_by`, then expire; a booking
may end `expired` or `covered`

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD = ("proposed", "confirmed", "waitlisted", "declined", "withdrawn", "cancelled")
NEW = (*OLD, "expired", "covered")


def _status_check(batch_op, statuses):
    batch_op.drop_constraint(batch_op.f("ck_assignments_status"), type_="check")
    batch_op.create_check_constraint("status", f"status IN {statuses!r}")


def upgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_assignments_answer_by"), ["answer_by"])
        _status_check(batch_op, NEW)
    # Proposals made before this revision were promised no deadline: they hold their
    # seat until their session starts (a new matching run gives new ones a deadline).
    op.execute(
        "UPDATE assignments SET answer_by = ("
        " SELECT training_sessions.starts_at FROM training_sessions"
        " WHERE training_sessions.id = assignments.session_id)"
        " WHERE status = 'proposed'"
    )


def downgrade():
    op.execute("UPDATE assignments SET status = 'cancelled' WHERE status IN ('expired', 'covered')")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        _status_check(batch_op, OLD)
        batch_op.drop_index(batch_op.f("ix_assignments_answer_by"))
        batch_op.drop_column("answer_by")
