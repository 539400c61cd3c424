"""outbox: a partial index of the unfinished messages by item, for claiming in order

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_SQL = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_unfinished_item_id",
        "outbox",
        ["item_id", "id"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED_SQL),
        sqlite_where=sa.text(UNFINISHED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unfinished_item_id", table_name="outbox")
