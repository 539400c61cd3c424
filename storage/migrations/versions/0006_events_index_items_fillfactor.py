"""events: drop ix_events_item_id (ix_events_item_id_kind_at leads with item_id and serves the
same lookups); items: leave a tenth of each PostgreSQL page free, so that updates to columns no
index covers (nag counts, timestamps) stay on their page and touch no index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEMS_FILLFACTOR = 90


def upgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_item_id")
    if op.get_bind().dialect.name == "postgresql":
        # Pages written from now on; `VACUUM FULL items` applies it to the rows already there.
        op.execute(f"ALTER TABLE items SET (fillfactor = {ITEMS_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE items RESET (fillfactor)")
    with op.batch_alter_table("events") as batch_op:
        batch_op.create_index("ix_events_item_id", ["item_id"], unique=False)
