"""custody: stored interior hashes of the ledger's Merkle tree, for proofs and roots in
O(log n) reads; the append's critical section in one round trip on PostgreSQL (issue 18)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody import ledger, schema, stored_tree

# The nodes are derived from the ledger and kept as it is: append-only (and SELECT/INSERT only
# for the application role, custody.ledger.ALL_APPEND_ONLY_TABLES).
TABLES = ("custody_merkle_nodes",)

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_custody_merkle_nodes")),
    )
    dialect = op.get_bind().dialect.name
    for statement in schema.append_only_statements(dialect, TABLES):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute(ledger.APPEND_FUNCTION)
    # A ledger from an earlier version gets the nodes of its completed subtrees now, computed
    # from its stored leaf hashes in one pass (100 000 events: about 12 500 rows).
    stored_tree.backfill(op.get_bind())


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(ledger.DROP_APPEND_FUNCTION)
    for statement in schema.drop_statements(dialect, TABLES):
        op.execute(statement)
    op.drop_table("custody_merkle_nodes")
