"""Typed factories for handover paperwork: the fixture request of 22 November 2026."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.handover.document import (
    BastDocument,
    Checkpoint,
    ClipRow,
    DestroyedFile,
    DestructionRecord,
    Gap,
    Party,
)
from custody import note
from custody.keys import OfficeKey

# 22 November 2026 is a Sunday in Jakarta; 17:30 UTC on the 21st is already 00:30 WIB on the 22nd.
HANDOVER_AT = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)
VERIFICATION_URL = "https://saksi.diskominfo.cirebonkab.go.id/verifikasi/bast/007-BAST-2026"


def sha(label: str) -> str:
    """Return a distinct, real SHA-256 for a label."""
    return hashlib.sha256(label.encode()).hexdigest()


def clip_rows() -> tuple[ClipRow, ...]:
    """Return three clips: one with a gap and a clock offset, one crossing no gap, one on USB."""
    return (
        ClipRow(
            start_at=datetime(2026, 11, 19, 3, 0, tzinfo=UTC),
            end_at=datetime(2026, 11, 19, 3, 15, tzinfo=UTC),
            camera_location="Simpang Empat Sumber (PTZ 01)",
            storage_medium="Google Drive",
            file_name="007-01-simpang-empat.mp4",
            sha256=sha("clip-1"),
            size_bytes=187_654_321,
            gaps=(
                Gap(
                    start_at=datetime(2026, 11, 19, 3, 3, 12, tzinfo=UTC),
                    end_at=datetime(2026, 11, 19, 3, 4, 40, tzinfo=UTC),
                ),
            ),
            clock_offset_seconds=2.375,
        ),
        ClipRow(
            start_at=datetime(2026, 11, 19, 13, 30, tzinfo=UTC),
            end_at=datetime(2026, 11, 19, 14, 0, tzinfo=UTC),
            camera_location="Alun-alun Sumber Sisi Utara",
            storage_medium="Google Drive",
            file_name="007-02-alun-alun.mp4",
            sha256=sha("clip-2"),
            size_bytes=402_113_024,
            clock_offset_seconds=-0.5,
        ),
        ClipRow(
            start_at=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
            end_at=datetime(2026, 11, 20, 0, 10, tzinfo=UTC),
            camera_location="Jl. Dewi Sartika depan Pasar Sumber",
            storage_medium="Flashdisk",
            remarks="Diserahkan bersama flashdisk 16 GB milik Pihak Kedua",
            file_name="007-03-dewi-sartika.mp4",
            sha256=sha("clip-3"),
            size_bytes=95_000,
        ),
    )


LOG_ORIGIN = "saksi.diskominfo.cirebonkab.go.id/log"
TREE_ROOT = hashlib.sha256(b"fixture tree of 4182 events").digest()


def office_key() -> OfficeKey:
    """Return the fixture's office signing key (fixed, so documents are reproducible)."""
    return OfficeKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def signed_checkpoint() -> Checkpoint:
    """Return a checkpoint really signed by a fixed Ed25519 key with the custody library."""
    key = office_key()
    body = note.Checkpoint(origin=LOG_ORIGIN, size=4182, root=TREE_ROOT)
    return Checkpoint(
        origin=LOG_ORIGIN,
        tree_size=4182,
        root=base64.b64encode(TREE_ROOT).decode(),
        signed_note=note.sign(body, LOG_ORIGIN, key),
    )


def bast_document(*, via_google_drive: bool = True) -> BastDocument:
    """Return the fixture BAST 007/BAST/2026."""
    return BastDocument(
        number="007/BAST/2026",
        handover_at=HANDOVER_AT,
        pihak_pertama=Party(name="Rizky Maulana", id_kind="NIP", id_number="199203152019031004"),
        pihak_kedua=Party(
            name="AIPDA Dedi Kurniawan",
            id_kind="NRP",
            id_number="85071234",
            position="Penyidik Pembantu Satreskrim",
            institution="Kepolisian Resor Cirebon Kota",
        ),
        mengetahui=Party(
            name="Hj. Siti Nurhalimah, S.Kom., M.T.",
            id_kind="NIP",
            id_number="197805122005012009",
            position="Subkoordinator Bidang TI",
        ),
        letter_number="B/123/XI/2026/Reskrim",
        letter_date=date(2026, 11, 20),
        purpose="penyelidikan perkara pencurian kendaraan bermotor (LP/B/456/XI/2026)",
        via_google_drive=via_google_drive,
        rows=clip_rows(),
        checkpoint=signed_checkpoint(),
        verification_url=VERIFICATION_URL,
    )


def destruction_record() -> DestructionRecord:
    """Return the purge of the Drive delivery of BAST 007/BAST/2026, fourteen days later."""
    purged_at = datetime(2026, 12, 6, 17, 0, 5, tzinfo=UTC)
    return DestructionRecord(
        reference="PMS-2026-0031",
        bast_number="007/BAST/2026",
        request_number="REQ-2026-0142",
        letter_number="B/123/XI/2026/Reskrim",
        delivery_method="Google Drive",
        delivery_reference="1AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        delivered_at=HANDOVER_AT,
        expires_at=datetime(2026, 12, 5, 17, 30, tzinfo=UTC),
        purged_at=purged_at,
        job_name="deliveries.purge_expired",
        job_id="6f1c2e9a-52d4-4b3e-9a57-0d6b1e2f3a4c",
        files=tuple(
            DestroyedFile(
                file_name=clip.file_name or "",
                sha256=clip.sha256,
                size_bytes=clip.size_bytes,
                deleted_at=purged_at,
            )
            for clip in clip_rows()[:2]
        ),
        petugas=Party(name="Rizky Maulana", id_number="199203152019031004"),
        mengetahui=Party(
            name="Hj. Siti Nurhalimah, S.Kom., M.T.",
            id_number="197805122005012009",
            position="Subkoordinator Bidang TI",
        ),
    )
