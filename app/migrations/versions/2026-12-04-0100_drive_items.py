"""delivery: Drive items on record before they exist, a row per reserved id (issue 16)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drive_items",
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reserved_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("settled_at", app.db.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_drive_items_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_drive_items")),
    )
    with op.batch_alter_table("drive_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drive_items_delivery_id"), ["delivery_id"])


def downgrade() -> None:
    with op.batch_alter_table("drive_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_items_delivery_id"))
    op.drop_table("drive_items")
