"""what the NVR holds of each request item at intake: its oldest recording, the window's coverage

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRESERVATION = ("unchecked", "unknown", "safe", "at_risk", "overwritten")


def upgrade() -> None:
    with op.batch_alter_table("request_items") as batch:
        batch.add_column(sa.Column("oldest_recording_at", app.db.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("preservation_checked_at", app.db.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("preservation_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("coverage", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column(
                "preservation",
                sa.Enum(*PRESERVATION, name="preservation", native_enum=False, length=16),
                nullable=False,
                server_default="unchecked",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("request_items") as batch:
        batch.drop_column("preservation")
        batch.drop_column("coverage")
        batch.drop_column("preservation_error")
        batch.drop_column("preservation_checked_at")
        batch.drop_column("oldest_recording_at")
