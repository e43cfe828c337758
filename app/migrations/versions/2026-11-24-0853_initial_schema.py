"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:53:17.707932
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "polri",
                "kejaksaan",
                "kpk",
                "pengadilan",
                "tni",
                "bnn",
                "lainnya",
                name="agencykind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("name", name=op.f("uq_agencies_name")),
    )
    op.create_table(
        "nvrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "vendor",
            sa.Enum("onvif", "hikvision", "dahua", name="nvrvendor", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("http_port", sa.Integer(), nullable=False),
        sa.Column("rtsp_port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_encrypted", sa.String(length=1024), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nvrs")),
        sa.UniqueConstraint("name", name=op.f("uq_nvrs_name")),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("nvr_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("source_token", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["nvr_id"], ["nvrs.id"], name=op.f("fk_cameras_nvr_id_nvrs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("nvr_id", "name", name=op.f("uq_cameras_nvr_id_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("position", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "kepala_dinas",
                "sekretaris",
                "kepala_bidang",
                "subkoordinator",
                "operator",
                "auditor",
                "pemohon",
                name="role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'pemohon') = (agency_id IS NOT NULL)", name=op.f("ck_users_pemohon_has_agency")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_users_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "evidence_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("letter_number", sa.String(length=128), nullable=False),
        sa.Column("letter_number_key", sa.String(length=128), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=False),
        sa.Column("letter_path", sa.String(length=512), nullable=False),
        sa.Column("letter_sha256", sa.String(length=64), nullable=False),
        sa.Column("letter_size", sa.Integer(), nullable=False),
        sa.Column("letter_filename", sa.String(length=255), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("incident", sa.Text(), nullable=False),
        sa.Column("officer_name", sa.String(length=200), nullable=False),
        sa.Column("officer_id_number", sa.String(length=64), nullable=False),
        sa.Column("officer_position", sa.String(length=200), nullable=False),
        sa.Column("officer_institution", sa.String(length=200), nullable=False),
        sa.Column("officer_email", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_id_number", sa.String(length=64), nullable=False),
        sa.Column("recipient_position", sa.String(length=200), nullable=False),
        sa.Column("recipient_institution", sa.String(length=200), nullable=False),
        sa.Column("recipient_email", sa.String(length=254), nullable=False),
        sa.Column(
            "delivery_method",
            sa.Enum(
                "google_drive",
                "local_link",
                "media",
                name="deliverymethod",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "in_progress",
                "returned",
                "completed",
                name="requeststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("sop_id", sa.String(length=64), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("assigned_operator_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_evidence_requests_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_operator_id"],
            ["users.id"],
            name=op.f("fk_evidence_requests_assigned_operator_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_evidence_requests_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_requests")),
        sa.UniqueConstraint(
            "agency_id",
            "letter_number_key",
            name=op.f("uq_evidence_requests_agency_id_letter_number_key"),
        ),
    )
    op.create_table(
        "request_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("window_start_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("window_end_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_request_items_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["evidence_requests.id"],
            name=op.f("fk_request_items_request_id_evidence_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_items")),
        sa.UniqueConstraint(
            "request_id", "position", name=op.f("uq_request_items_request_id_position")
        ),
    )
    op.create_table(
        "sop_step_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("completed", "returned", name="stepoutcome", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("performed_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("met_standard", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("assigned_operator_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_sop_step_records_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_operator_id"],
            ["users.id"],
            name=op.f("fk_sop_step_records_assigned_operator_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["evidence_requests.id"],
            name=op.f("fk_sop_step_records_request_id_evidence_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_step_records")),
        sa.UniqueConstraint(
            "request_id", "step_number", name=op.f("uq_sop_step_records_request_id_step_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("sop_step_records")
    op.drop_table("request_items")
    op.drop_table("evidence_requests")
    op.drop_table("users")
    op.drop_table("cameras")
    op.drop_table("nvrs")
    op.drop_table("agencies")
