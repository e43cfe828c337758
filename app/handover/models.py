from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime


class BastCounter(Base):
    """The last BAST number issued in a year; incremented inside the issuing transaction."""

    __tablename__ = "bast_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class Handover(Base):
    """One issued Berita Acara Serah Terima: its number, its documents, its signed scan."""

    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("year", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pdf_path: Mapped[str | None] = mapped_column(String(512))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    docx_path: Mapped[str | None] = mapped_column(String(512))
    docx_sha256: Mapped[str | None] = mapped_column(String(64))
    checkpoint: Mapped[str | None] = mapped_column(Text)
    signed_scan_path: Mapped[str | None] = mapped_column(String(512))
    signed_scan_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class EvidencePackage(Base):
    """The signed evidence package of a request: built once, never rewritten."""

    __tablename__ = "evidence_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"), unique=True)
    directory: Mapped[str] = mapped_column(String(512))
    zip_path: Mapped[str] = mapped_column(String(512))
    zip_sha256: Mapped[str] = mapped_column(String(64))
    zip_size: Mapped[int] = mapped_column(BigInteger)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    clips: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Requested items without a clip, and why (`custody.package.UnavailableItem`): as the manifest.
    unavailable: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    checkpoint_size: Mapped[int] = mapped_column(Integer)
    built_at: Mapped[datetime] = mapped_column(UtcDateTime)
    built_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
