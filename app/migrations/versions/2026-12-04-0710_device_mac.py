"""registry: device MAC addresses of NVRs and cameras, read from the device where it tells
(ONVIF GetNetworkInterfaces, Hikvision ISAPI, Dahua CGI) or entered by an operator (issue 20,
item 4)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `mac_address`: normalised `aa:bb:cc:dd:ee:ff`; `mac_source`: "device" or "operator".
TABLES = ("nvrs", "cameras")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("mac_address", sa.String(length=17), nullable=True))
            batch.add_column(sa.Column("mac_source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("mac_source")
            batch.drop_column("mac_address")
