"""exports: a line per NVR for its playback slots, in ticket order (issue 18)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nvr_slot_tickets",
        sa.Column("ticket", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nvr_id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("alive_until", app.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["nvr_id"], ["nvrs.id"], name=op.f("fk_nvr_slot_tickets_nvr_id_nvrs")
        ),
        sa.ForeignKeyConstraint(
            ["export_id"], ["exports.id"], name=op.f("fk_nvr_slot_tickets_export_id_exports")
        ),
        sa.PrimaryKeyConstraint("ticket", name=op.f("pk_nvr_slot_tickets")),
        sa.UniqueConstraint("export_id", name=op.f("uq_nvr_slot_tickets_export_id")),
    )
    with op.batch_alter_table("nvr_slot_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nvr_slot_tickets_nvr_id"), ["nvr_id"])


def downgrade() -> None:
    with op.batch_alter_table("nvr_slot_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nvr_slot_tickets_nvr_id"))
    op.drop_table("nvr_slot_tickets")
