"""jobs: leases of periodic jobs, so every worker may schedule them and one runs each (issue 18)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 00:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("period", app.db.UtcDateTime(), nullable=False),
        sa.Column("leased_until", app.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
