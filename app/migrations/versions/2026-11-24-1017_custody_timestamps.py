"""custody timestamps

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:17:15.693099
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody import schema

TABLES = ("custody_timestamps",)


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_timestamps",
        sa.Column("checkpoint_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("authority", sa.String(length=512), nullable=False),
        sa.Column("reply", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("checkpoint_id", name=op.f("pk_custody_timestamps")),
    )
    for statement in schema.append_only_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in schema.drop_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)
    op.drop_table("custody_timestamps")
