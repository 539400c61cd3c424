"""route_claims: offers to own a grey area; routes remember who claimed them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "route_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("claimer", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=75), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "declined", name="claimstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("request_channel", sa.String(length=32), nullable=True),
        sa.Column("request_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_route_claims_item_id_items")),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"], name=op.f("fk_route_claims_route_id_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_claims")),
    )
    op.create_index(op.f("ix_route_claims_item_id"), "route_claims", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_route_claims_item_id"), table_name="route_claims")
    op.drop_table("route_claims")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
