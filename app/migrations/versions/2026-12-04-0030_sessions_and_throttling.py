"""auth: one session model for tokens and cookies, login throttling (issue 17)

A per-user session generation that every token and cookie carries: logout, a password reset,
deactivation and reactivation raise it, ending every session of the account at once. Throttle
counters shared by every process (login failures, download and verification requests), and the
download sessions that make one custody event out of many Range requests.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "web_sessions",
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", app.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_web_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_started_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", app.db.UtcDateTime(), nullable=True),
        sa.Column("updated_at", app.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index("ix_throttle_counters_locked_until", "throttle_counters", ["locked_until"])
    op.create_table(
        "download_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_hash", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("started_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", app.db.UtcDateTime(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("bytes_served", sa.BigInteger(), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("closed_at", app.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_sessions")),
    )
    op.create_index(
        "ix_download_sessions_link_hash",
        "download_sessions",
        ["link_hash", "client", "file_name", "last_seen_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_download_sessions_link_hash", table_name="download_sessions")
    op.drop_table("download_sessions")
    op.drop_index("ix_throttle_counters_locked_until", table_name="throttle_counters")
    op.drop_table("throttle_counters")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
