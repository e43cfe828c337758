"""exports and attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:15:12.306074
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("evidence", "preservation", name="exportpurpose", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "probing",
                "searching",
                "fetching",
                "verifying",
                "done",
                "partial",
                "failed",
                name="exportstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("media_seconds", sa.Float(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("file_path", sa.String(length=512), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("first_frame_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_frame_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("contact_sheet_path", sa.String(length=512), nullable=True),
        sa.Column("device", sa.JSON(), nullable=True),
        sa.Column("clock", sa.JSON(), nullable=True),
        sa.Column("coverage", sa.JSON(), nullable=True),
        sa.Column("gaps", sa.JSON(), nullable=True),
        sa.Column("trimming", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_exports_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["request_items.id"], name=op.f("fk_exports_item_id_request_items")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["evidence_requests.id"],
            name=op.f("fk_exports_request_id_evidence_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_table(
        "export_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("started_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "done",
                "partial",
                "failed",
                "interrupted",
                name="attemptoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("file_path", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["export_id"], ["exports.id"], name=op.f("fk_export_attempts_export_id_exports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_attempts")),
        sa.UniqueConstraint(
            "export_id", "number", name=op.f("uq_export_attempts_export_id_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("export_attempts")
    op.drop_table("exports")
