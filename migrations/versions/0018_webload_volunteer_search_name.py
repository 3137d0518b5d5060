"""webload: volunteers' search_name (the name lower-case without marks, đ as d) for the
`q` filter's LIKE in SQL, filled for the existing rows, with trigram indexes on it and
on the email (PostgreSQL: pg_trgm; SQLite: plain indexes)

Revision ID: 0018
Revises: 0017
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BATCH = 5000


def search_key(value: str) -> str:
    """coordinator.text.search_key as of this revision (a migration keeps its own copy)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold().replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def upgrade():
    op.add_column(
        "volunteers",
        sa.Column("search_name", sa.String(length=200), server_default="", nullable=False),
    )
    connection = op.get_bind()
    volunteers = sa.table(
        "volunteers", sa.column("id"), sa.column("full_name"), sa.column("search_name")
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(volunteers.c.id, volunteers.c.full_name)
            .where(volunteers.c.id > last)
            .order_by(volunteers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            volunteers.update()
            .where(volunteers.c.id == sa.bindparam("row_id"))
            .values(search_name=sa.bindparam("key")),
            [{"row_id": row.id, "key": search_key(row.full_name or "")} for row in rows],
        )
        last = rows[-1].id
    if connection.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension
    for column in ("search_name", "email"):
        op.create_index(
            f"ix_volunteers_{column}_trgm",
            "volunteers",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade():
    for column in ("search_name", "email"):
        op.drop_index(f"ix_volunteers_{column}_trgm", table_name="volunteers")
    op.drop_column("volunteers", "search_name")
