"""What operators and recipients read: Indonesian labels, messages and time formats."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.exports import reasons

# The Drive Activity API's kinds of action (ActionDetail), as the public BAST page names them.
DRIVE_ACTIONS = {
    "permissionChange": "Mengubah akses berbagi",
    "comment": "Memberi komentar",
    "edit": "Mengubah isi",
    "create": "Membuat/mengunggah",
    "move": "Memindahkan",
    "rename": "Mengganti nama",
    "delete": "Menghapus",
    "restore": "Memulihkan",
    "reference": "Menautkan",
    "settingsChange": "Mengubah pengaturan",
}

ROLES = {
    "admin": "Administrator",
    "kepala_dinas": "Kepala Dinas",
    "sekretaris": "Sekretaris Dinas",
    "kepala_bidang": "Kepala Bidang TI",
    "subkoordinator": "Subkoordinator",
    "operator": "Staf/Operator",
    "auditor": "Auditor",
    "pemohon": "Pemohon",
}

STATUSES = {
    "in_progress": "Dalam proses",
    "returned": "Dikembalikan",
    "completed": "Selesai",
}

DELIVERY = {
    "google_drive": "Google Drive (14 hari)",
    "local_link": "Tautan unduhan Saksi",
    "media": "Media penyimpanan (flashdisk/DVD)",
}

EXPORT_STATES = {
    "queued": "Menunggu",
    "probing": "Memeriksa NVR",
    "searching": "Mencari rekaman",
    "fetching": "Mengunduh",
    "verifying": "Memverifikasi",
    "done": "Selesai",
    "partial": "Sebagian",
    "failed": "Gagal",
}

# Why an export attempt failed, in the operator's words: `app.exports.reasons`.
EXPORT_ERRORS = reasons.EXPORT_ERRORS
# How the footage came from the NVR (exports.method).
FETCH_METHODS = {
    "download": "Unduh langsung dari NVR",
    "playback": "Putar ulang RTSP",
}

# Ledger events of no request, as the audit page names them.
OFFICE_ACTIONS = {
    "registry.agency_added": "Instansi ditambahkan",
    "registry.agency_changed": "Instansi diubah",
    "registry.nvr_added": "NVR ditambahkan",
    "registry.nvr_changed": "NVR diubah",
    "registry.camera_added": "Titik CCTV ditambahkan",
    "registry.camera_changed": "Titik CCTV diubah",
    "user.created": "Pengguna ditambahkan",
    "user.changed": "Pengguna diubah",
    "nvr.probed": "Uji koneksi NVR",
    "ledger.verified": "Pemeriksaan buku catatan",
}

# Error codes of the service, in the words an operator reads next to the field.
MESSAGES = {
    "ScanIsTheGeneratedBast": "Berkas ini adalah BAST yang dibuat Saksi, belum ditandatangani. "
    "Unggah hasil pindaian BAST yang sudah ditandatangani kedua pihak.",
    "ScanNotSigned": "PDF ini bukan pindaian dan tidak bertanda tangan elektronik. Unggah hasil "
    "pindaian BAST yang sudah ditandatangani, atau PDF yang ditandatangani secara elektronik.",
    "InvalidCredentials": "Nama pengguna atau kata sandi salah.",
    "LastAdministrator": "Administrator aktif terakhir tidak dapat dinonaktifkan.",
    "InvalidTimeWindow": "Waktu selesai harus setelah waktu mulai.",
    "WindowTooLong": "Rentang waktu terlalu panjang.",
    "WindowInFuture": "Rentang waktu belum terjadi (berakhir di masa depan).",
    "UnknownCamera": "Titik CCTV tidak dikenal.",
    "CameraInactive": "Titik CCTV ini tidak aktif.",
    "AgencyNotAuthorized": "Instansi ini tidak termasuk instansi yang berwenang meminta rekaman.",
    "DuplicateLetterNumber": "Nomor surat ini sudah pernah didaftarkan oleh instansi yang sama.",
    "LetterNotPdf": "Surat permohonan harus berupa berkas PDF.",
    "LetterTooLarge": "Berkas surat terlalu besar.",
    "NotYourAgency": "Anda hanya dapat mengajukan permintaan untuk instansi Anda sendiri.",
    "RoleNotPermitted": "Peran Anda tidak dapat melakukan langkah ini.",
    "InvalidTransition": "Langkah ini sudah dilakukan atau bukan langkah yang sedang berjalan.",
    "RequestClosed": "Permintaan ini sudah ditutup.",
    "OperatorNotFound": "Pilih staf/operator yang aktif.",
    "Forbidden": "Anda tidak berwenang melakukan ini.",
    "ValidationFailed": "Isian tidak valid.",
    "ReasonRequired": "Tuliskan alasan pengembalian.",
    "ExportsIncomplete": "Selesaikan ekspor semua titik CCTV terlebih dahulu.",
    "ClosedBySignedScan": "Serah terima selesai saat pindaian BAST bertanda tangan diunggah.",
    "PackageMissing": "Buat paket barang bukti terlebih dahulu.",
    "DeliveryMissing": "Serahkan paket (tautan/Google Drive/media) sebelum menerbitkan BAST.",
    "AlreadyIssued": "Sudah dibuat sebelumnya.",
}

ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA"}
ZONE_NAMES["Asia/Jayapura"] = "WIT"


def message(code: str, fallback: str = "") -> str:
    return MESSAGES.get(code, fallback or "Terjadi kesalahan.")


def zone_name(zone: ZoneInfo) -> str:
    return ZONE_NAMES.get(zone.key, zone.key)


def local_time(moment: datetime | str | None, zone: ZoneInfo) -> str:
    """Format a UTC time (or its ISO text, as manifests keep it) in office time, the way the
    office writes it: 22/11/2026 10:00 WIB."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(zone):%d/%m/%Y %H:%M} {zone_name(zone)}"


def local_clock(moment: datetime | str, zone: ZoneInfo) -> str:
    """A time of day in office time to the second (gaps are seconds long): 10:00:30."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(zone):%H:%M:%S}"


def input_time(moment: datetime, zone: ZoneInfo) -> str:
    """Format a UTC time for a datetime-local input in office time."""
    return f"{moment.astimezone(zone):%Y-%m-%dT%H:%M:%S}"
