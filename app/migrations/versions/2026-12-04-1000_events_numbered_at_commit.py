"""custody: events queued in their transaction and numbered at its commit by a deferred
constraint trigger, so the ledger lock no longer spans the caller's round trips (issue 18)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody import at_commit

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the table stays empty: appends there number events at once (custody.at_commit).
    op.create_table(
        "custody_pending",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("part_before", sa.Text(), nullable=False),
        sa.Column("part_between", sa.Text(), nullable=False),
        sa.Column("part_after", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_pending")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(at_commit.NODES_FUNCTION)
        op.execute(at_commit.NUMBER_FUNCTION)
        op.execute(at_commit.TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in at_commit.DROP_STATEMENTS:
            op.execute(statement)
    op.drop_table("custody_pending")
