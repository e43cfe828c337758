"""custody: each checkpoint keeps the tree's right frontier, for the next root (issue 18)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild): the table's append-only triggers stay as they are.
    op.add_column("custody_checkpoints", sa.Column("frontier", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("custody_checkpoints", "frontier")
