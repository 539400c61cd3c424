"""digest indexes: events by kind and time, items by when they were raised and closed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_kind_at", "events", ["kind", "at"], unique=False)
    op.create_index("ix_events_item_id_kind_at", "events", ["item_id", "kind", "at"], unique=False)
    op.create_index("ix_items_created_at", "items", ["created_at"], unique=False)
    op.create_index("ix_items_status_closed", "items", ["status", "closed_at"], unique=False)
    op.create_index("ix_items_duplicate_of_id", "items", ["duplicate_of_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_items_duplicate_of_id", table_name="items")
    op.drop_index("ix_items_status_closed", table_name="items")
    op.drop_index("ix_items_created_at", table_name="items")
    op.drop_index("ix_events_item_id_kind_at", table_name="events")
    op.drop_index("ix_events_kind_at", table_name="events")
