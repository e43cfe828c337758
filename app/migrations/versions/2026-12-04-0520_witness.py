"""custody: witness cosignatures of the office's checkpoints, and the logs this office
witnesses (issue 20, items 7b/7c)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody import schema

# The cosignatures the office obtained are evidence: append-only, like the ledger.
TABLES = ("custody_cosignatures",)

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_cosignatures",
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("witness", "tree_size", name=op.f("pk_custody_cosignatures")),
    )
    op.create_table(
        "custody_witnessed_logs",
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_custody_witnessed_logs")),
    )
    for statement in schema.append_only_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in schema.drop_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)
    op.drop_table("custody_witnessed_logs")
    op.drop_table("custody_cosignatures")
