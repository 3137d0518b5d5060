"""targets per unit: a province's own targets, and the movement's default percent

Revision ID: 0008
Revises: 0007

A population target belongs to a ward or to a province (exactly one of `ward` and
`province_code`); `target_percent` may be left empty, and the movement's default for the
target group then applies (config PROGRESS_DEFAULT_TARGET_PERCENT).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("population_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("province_code", sa.String(length=8), nullable=True))
        batch_op.alter_column("ward", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("target_percent", existing_type=sa.Float(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_population_targets_province_code_provinces"),
            "provinces",
            ["province_code"],
            ["code"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_population_targets_province_code_target_group_year"),
            ["province_code", "target_group", "year"],
        )
        batch_op.create_check_constraint(
            "ward_or_province", "(ward IS NULL) <> (province_code IS NULL)"
        )


def downgrade():
    op.execute("DELETE FROM population_targets WHERE ward IS NULL")
    op.execute(
        "UPDATE population_targets SET target_percent = CASE target_group"
        " WHEN 'students' THEN 100 ELSE 80 END WHERE target_percent IS NULL"
    )
    with op.batch_alter_table("population_targets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_population_targets_ward_or_province"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_population_targets_province_code_target_group_year"), type_="unique"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_population_targets_province_code_provinces"), type_="foreignkey"
        )
        batch_op.alter_column("target_percent", existing_type=sa.Float(), nullable=False)
        batch_op.alter_column("ward", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("province_code")
