"""notifications: dedup key per live message, booking, drop reason; opt-outs; answer tokens

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_notifications_recipient_kind_recipient_id_kind_session_id_session_version"
LIVE = "status <> 'dropped'"


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(OLD_UNIQUE), type_="unique")
        batch_op.add_column(sa.Column("assignment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_notifications_assignment_id_assignments"),
            "assignments",
            ["assignment_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # Rows written before this revision were keyed by (recipient, kind, session, version).
    # (':' and 's' apart: ':s' would read as a bind parameter.)
    op.execute(
        "UPDATE notifications SET dedup_key = recipient_kind || ':' || recipient_id || ':'"
        " || kind || ':' || 's' || COALESCE(session_id, 0) || ':' || 'v' || session_version"
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("dedup_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(
            "uq_notifications_live_dedup_key",
            ["dedup_key"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_notifications_status_scheduled_for", ["status", "scheduled_for"], unique=False
        )

    op.create_table(
        "notification_opt_outs",
        sa.Column("recipient_kind", sa.String(length=20), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recipient_kind IN ('volunteer', 'participant', 'user')",
            name=op.f("ck_notification_opt_outs_kind"),
        ),
        sa.PrimaryKeyConstraint(
            "recipient_kind", "recipient_id", "kind", name=op.f("pk_notification_opt_outs")
        ),
    )
    op.create_table(
        "notification_answer_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_notification_answer_tokens_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_answer_tokens_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_answer_tokens")),
        sa.UniqueConstraint(
            "notification_id", name=op.f("uq_notification_answer_tokens_notification_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_notification_answer_tokens_token_hash")),
    )
    with op.batch_alter_table("notification_answer_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_answer_tokens_assignment_id"),
            ["assignment_id"],
            unique=False,
        )


def downgrade():
    op.drop_table("notification_answer_tokens")
    op.drop_table("notification_opt_outs")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_status_scheduled_for")
        batch_op.drop_index("uq_notifications_live_dedup_key")
        batch_op.drop_constraint(
            op.f("fk_notifications_assignment_id_assignments"), type_="foreignkey"
        )
        batch_op.drop_column("reason")
        batch_op.drop_column("dedup_key")
        batch_op.drop_column("assignment_id")
        batch_op.create_unique_constraint(
            op.f(OLD_UNIQUE),
            ["recipient_kind", "recipient_id", "kind", "session_id", "session_version"],
        )
