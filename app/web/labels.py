"""What operators and recipients read: Indonesian labels, messages and time formats."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.exports import reasons
from app.exports.models import TERMINAL_STATES, Export, ExportState

# Custody events as people say them (issue 19: the log named event keys). An action not listed
# shows its key, so nothing recorded is ever hidden.
CUSTODY_ACTIONS = {
    "request.registered": "Surat didaftarkan",
    "request.preservation_checked": "Ketersediaan rekaman di NVR diperiksa",
    "sop.step_completed": "Langkah SOP diselesaikan",
    "sop.request_returned": "Permintaan dikembalikan",
    "nvr.probed": "NVR diuji",
    "export.preservation_started": "Pengamanan rekaman dimulai",
    "export.started": "Ekspor dimulai",
    "export.searching": "Rekaman dicari di NVR",
    "export.fetching": "Rekaman diambil dari NVR",
    "export.file_written": "Ekspor selesai: berkas ditulis",
    "export.master_written": "Berkas asli NVR disimpan",
    "export.attempt_ended": "Percobaan ekspor berakhir",
    "export.requeued": "Ekspor diantrekan ulang",
    "export.viewed": "Rekaman diputar oleh staf",
    "package.built": "Paket barang bukti dibuat",
    "delivery.upload_started": "Unggahan penyerahan dimulai",
    "delivery.upload_completed": "Unggahan penyerahan selesai",
    "delivery.container_created": "Folder penyerahan dibuat",
    "delivery.drive_items_reserved": "ID Google Drive dipesan",
    "delivery.recipient_unshareable": "Google Drive tidak dapat berbagi ke alamat penerima",
    "delivery.shared": "Diserahkan kepada penerima",
    "delivery.accessed": "Diunduh penerima",
    "delivery.access_closed": "Sesi unduhan ditutup",
    "delivery.drive_activity": "Aktivitas di Google Drive",
    "delivery.revoked": "Tautan dicabut",
    "delivery.failed": "Penyerahan gagal",
    "delivery.purged": "Salinan penyerahan dimusnahkan",
    "delivery.purge_failed": "Pemusnahan gagal",
    "delivery.drive_items_purged": "Sisa di Google Drive dihapus",
    "delivery.drive_reconciled": "Google Drive dicocokkan dengan catatan",
    "destruction.recorded": "Berita acara pemusnahan dibuat",
    "destruction.signed": "Berita acara pemusnahan ditandatangani secara elektronik",
    "handover.issued": "BAST diterbitkan",
    "handover.signed": "BAST ditandatangani secara elektronik",
    "handover.signed_scan": "Pindaian BAST bertanda tangan diunggah",
    "handover.esigned": "BAST ditandatangani lengkap secara elektronik",
    "ledger.verified": "Buku besar diperiksa",
    "registry.agency_added": "Instansi ditambahkan",
    "registry.agency_changed": "Instansi diubah",
    "registry.nvr_added": "NVR ditambahkan",
    "registry.nvr_changed": "NVR diubah",
    "registry.camera_added": "Kamera ditambahkan",
    "registry.camera_changed": "Kamera diubah",
    "user.created": "Pengguna dibuat",
    "user.changed": "Pengguna diubah",
}


def custody_action(action: str) -> str:
    return CUSTODY_ACTIONS.get(action, action)


def camera_label(location: str, name: str) -> str:
    """A camera as every table names it (issue 19: one name, not three spellings)."""
    return f"{location} — {name}"


def file_size(size: int) -> str:
    """Bytes as people read them, with the Indonesian decimal comma: 1,5 MB."""
    value, unit = float(size), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}".replace(".", ",")


def export_progress(export: Export, now: datetime) -> str:
    """What an export row says under its bar: percent, size so far (of what the NVR announced)
    and the rate of the running attempt; the clip's size once done."""
    if export.state in TERMINAL_STATES:
        size = export.size_bytes
        return file_size(size) if size and export.state is not ExportState.FAILED else ""
    if export.state is ExportState.QUEUED:
        return "menunggu giliran"
    done = export.bytes_written or 0
    text = f"{export.percent:.0f}% · {file_size(done)}"
    if export.expected_bytes:
        text += f" dari {file_size(export.expected_bytes)}"
    started = max((a.started_at for a in export.attempts), default=None)
    if started is not None and done and now > started:
        text += f" · {file_size(int(done / (now - started).total_seconds()))}/detik"
    return text


def duration(minutes: int) -> str:
    """A time standard as people say it: 15 menit, 24 jam, 2 hari, 1 jam 30 menit."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days and not hours and not mins:
        return f"{days} hari" if days != 1 else "24 jam"
    parts = [f"{days * 24 + hours} jam" if days or hours else "", f"{mins} menit" if mins else ""]
    return " ".join(p for p in parts if p) or "0 menit"


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
    "ClosedBySignedScan": "Serah terima selesai saat BAST ditandatangani secara elektronik oleh "
    "ketiga pihak atau pindaian BAST bertanda tangan diunggah.",
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
