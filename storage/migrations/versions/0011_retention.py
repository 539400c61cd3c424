"""items.purged_at: when retention took an item's free text and people; an index of those it hasn't

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPURGED_SQL = "purged_at IS NULL AND closed_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_items_unpurged_closed_at",
        "items",
        ["closed_at"],
        unique=False,
        postgresql_where=sa.text(UNPURGED_SQL),
        sqlite_where=sa.text(UNPURGED_SQL),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_items_unpurged_closed_at",
        table_name="items",
        postgresql_where=sa.text(UNPURGED_SQL),
        sqlite_where=sa.text(UNPURGED_SQL),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
