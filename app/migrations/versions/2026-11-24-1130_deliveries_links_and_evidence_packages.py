"""deliveries, links and evidence packages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 11:30:28.297122
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "shared",
                "failed",
                "revoked",
                "purged",
                name="deliverystate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("container_id", sa.String(length=256), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("file_ids", sa.JSON(), nullable=False),
        sa.Column("permission_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("shared_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("purge_due_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("purged_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("purge_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("destruction_path", sa.String(length=512), nullable=True),
        sa.Column("destruction_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_deliveries_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["evidence_requests.id"],
            name=op.f("fk_deliveries_request_id_evidence_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_table(
        "evidence_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("directory", sa.String(length=512), nullable=False),
        sa.Column("zip_path", sa.String(length=512), nullable=False),
        sa.Column("zip_sha256", sa.String(length=64), nullable=False),
        sa.Column("zip_size", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("clips", sa.JSON(), nullable=False),
        sa.Column("checkpoint_size", sa.Integer(), nullable=False),
        sa.Column("built_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("built_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["built_by_id"], ["users.id"], name=op.f("fk_evidence_packages_built_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["evidence_requests.id"],
            name=op.f("fk_evidence_packages_request_id_evidence_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_packages")),
        sa.UniqueConstraint("request_id", name=op.f("uq_evidence_packages_request_id")),
    )
    op.create_table(
        "delivery_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("container_id", sa.String(length=256), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_links_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_delivery_links")),
    )
    with op.batch_alter_table("delivery_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_links_container_id"), ["container_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_links_container_id"))

    op.drop_table("delivery_links")
    op.drop_table("evidence_packages")
    op.drop_table("deliveries")
