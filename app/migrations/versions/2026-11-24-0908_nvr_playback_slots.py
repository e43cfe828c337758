"""nvr playback slots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:08:52.298953
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nvr_slots",
        sa.Column("nvr_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("leased_until", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["nvr_id"], ["nvrs.id"], name=op.f("fk_nvr_slots_nvr_id_nvrs")),
        sa.PrimaryKeyConstraint("nvr_id", "slot", name=op.f("pk_nvr_slots")),
    )


def downgrade() -> None:
    op.drop_table("nvr_slots")
