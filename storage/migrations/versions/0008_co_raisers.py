"""co_raisers: the people who said "me too" to an item

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "co_raisers",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("joined_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("credit_me", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_co_raisers_item_id_items")),
        sa.PrimaryKeyConstraint("item_id", "user_id", name=op.f("pk_co_raisers")),
    )
    op.create_index("ix_co_raisers_item_id_joined_at", "co_raisers", ["item_id", "joined_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_co_raisers_item_id_joined_at", table_name="co_raisers")
    op.drop_table("co_raisers")
