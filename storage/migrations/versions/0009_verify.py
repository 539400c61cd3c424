"""verify: "did this fix it?" asks, and each route's verify_after

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routes") as batch:
        batch.add_column(sa.Column("verify_after", sa.Float(), nullable=True))
    op.create_table(
        "verify_asks",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "answer",
            sa.Enum(
                "fixed",
                "still_happening",
                "unconfirmed",
                name="verifyanswer",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("answered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", storage.models.VerbatimText(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_verify_asks_item_id_items")),
        sa.PrimaryKeyConstraint("item_id", "user_id", name=op.f("pk_verify_asks")),
    )
    op.create_index("ix_verify_asks_due_at", "verify_asks", ["due_at"], unique=False)
    op.create_index("ix_verify_asks_asked_at", "verify_asks", ["asked_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_verify_asks_asked_at", table_name="verify_asks")
    op.drop_index("ix_verify_asks_due_at", table_name="verify_asks")
    op.drop_table("verify_asks")
    with op.batch_alter_table("routes") as batch:
        batch.drop_column("verify_after")
