"""one-tap answers remember the first answer given (a second tap shows it); messages are
indexed by sending time (the monthly budget and the costs page read it)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notification_answer_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=20), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_sent_at"), ["sent_at"])


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_sent_at"))
    with op.batch_alter_table("notification_answer_tokens", schema=None) as batch_op:
        batch_op.drop_column("action")
