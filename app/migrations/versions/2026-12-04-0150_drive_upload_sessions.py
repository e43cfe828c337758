"""delivery: resumable Drive upload sessions in the database, a row per upload (issue 16)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drive_upload_sessions",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("session_uri", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", app.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_drive_upload_sessions")),
    )


def downgrade() -> None:
    op.drop_table("drive_upload_sessions")
