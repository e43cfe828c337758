"""evidence packages name the requested items they hold no clip of, and why

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Packages built before this revision did not record such items; they read as an empty list.
    with op.batch_alter_table("evidence_packages") as batch:
        batch.add_column(
            sa.Column("unavailable", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_packages") as batch:
        batch.drop_column("unavailable")
