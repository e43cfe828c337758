"""per-NVR device settings: Hikvision firmware reading playback `…Z` times as local, and the
number of simultaneous playback sessions the device allows

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nvrs") as batch:
        batch.add_column(
            sa.Column(
                "hikvision_z_is_local", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("playback_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nvrs") as batch:
        batch.drop_column("playback_limit")
        batch.drop_column("hikvision_z_is_local")
