"""exports: how the footage was fetched (vendor download or RTSP playback) and the device's
native file kept as the master beside the MP4 working copy

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("method", sa.String(16)),
    ("method_detail", sa.JSON()),
    ("expected_bytes", sa.BigInteger()),
    ("master_path", sa.String(512)),
    ("master_format", sa.String(16)),
    ("master_sha256", sa.String(64)),
    ("master_raw_sha256", sa.String(64)),
    ("master_size", sa.BigInteger()),
)


def upgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
