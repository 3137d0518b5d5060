"""channels: how each message went out (channel, provider id, price, delivery status),
quiet-hour holds, per-person channel choices, the Zalo OA's tokens

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("provider_message_id", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("price_vnd", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("refused_channels", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_notifications_provider_message_id"), ["provider_message_id"]
        )
    op.create_table(
        "notification_channel_choices",
        sa.Column("recipient_kind", sa.String(length=20), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recipient_kind IN ('volunteer', 'participant', 'user')",
            name=op.f("ck_notification_channel_choices_kind"),
        ),
        sa.PrimaryKeyConstraint(
            "recipient_kind", "recipient_id", "kind", name=op.f("pk_notification_channel_choices")
        ),
    )
    op.create_table(
        "zalo_oa_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zalo_oa_tokens")),
    )


def downgrade():
    op.drop_table("zalo_oa_tokens")
    op.drop_table("notification_channel_choices")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_provider_message_id"))
        for column in (
            "held_until",
            "refused_channels",
            "delivered_at",
            "delivery_status",
            "price_vnd",
            "provider_message_id",
            "channel",
        ):
            batch_op.drop_column(column)
