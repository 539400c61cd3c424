"""outbox: priority, pace_key, coalesce_key and in_item_order, so the dispatcher can pace calls
per rate limit, send what matters first and merge repeated updates; slack_pace: when the next
call against each rate limit may go, shared by every replica

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_WITH_KEY = "status = 'pending' AND coalesce_key IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "slack_pace",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("ready_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_pace")),
    )
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("pace_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("coalesce_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("in_item_order", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_index(
            "ix_outbox_pending_coalesce_key",
            ["coalesce_key"],
            unique=False,
            postgresql_where=sa.text(PENDING_WITH_KEY),
            sqlite_where=sa.text(PENDING_WITH_KEY),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_pending_coalesce_key")
        batch_op.drop_column("in_item_order")
        batch_op.drop_column("coalesce_key")
        batch_op.drop_column("pace_key")
        batch_op.drop_column("priority")
    op.drop_table("slack_pace")
