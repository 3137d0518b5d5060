"""cover requests: a confirmed volunteer's seat offered to the best few by the matcher's
rules (cover_requests, cover_offers), and the volunteer's own "I came" after a session
(assignments.self_reported_at)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

REQUEST_STATUSES = ("open", "taken", "withdrawn", "lapsed", "closed")
OFFER_STATUSES = ("offered", "accepted", "declined", "voided")
WHEN = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "cover_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deadline", WHEN, nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("covered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.CheckConstraint(f"status IN {REQUEST_STATUSES!r}", name=op.f("ck_cover_requests_status")),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_cover_requests_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["covered_by_id"],
            ["assignments.id"],
            name=op.f("fk_cover_requests_covered_by_id_assignments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_cover_requests_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["session_roles.id"],
            name=op.f("fk_cover_requests_role_id_session_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_sessions.id"],
            name=op.f("fk_cover_requests_session_id_training_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cover_requests")),
    )
    op.create_index(
        op.f("ix_cover_requests_assignment_id"), "cover_requests", ["assignment_id"]
    )
    op.create_index(op.f("ix_cover_requests_session_id"), "cover_requests", ["session_id"])
    op.create_index(
        "ix_cover_requests_status_deadline", "cover_requests", ["status", "deadline"]
    )
    op.create_index(
        "uq_cover_requests_open_assignment",
        "cover_requests",
        ["assignment_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "cover_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cover_request_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.CheckConstraint(f"status IN {OFFER_STATUSES!r}", name=op.f("ck_cover_offers_status")),
        sa.ForeignKeyConstraint(
            ["cover_request_id"],
            ["cover_requests.id"],
            name=op.f("fk_cover_offers_cover_request_id_cover_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_cover_offers_volunteer_id_volunteers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cover_offers")),
        sa.UniqueConstraint(
            "cover_request_id",
            "volunteer_id",
            name=op.f("uq_cover_offers_cover_request_id_volunteer_id"),
        ),
    )
    op.create_index(
        op.f("ix_cover_offers_cover_request_id"), "cover_offers", ["cover_request_id"]
    )
    op.create_index(op.f("ix_cover_offers_volunteer_id"), "cover_offers", ["volunteer_id"])
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("self_reported_at", WHEN, nullable=True))


def downgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("self_reported_at")
    op.drop_table("cover_offers")
    op.drop_table("cover_requests")
