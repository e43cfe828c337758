"""Why an export has no clip, in the words an operator and a recipient read (Bahasa Indonesia).

The error codes are the NVR errors of `nvr_adapters.errors` and the pipeline's own; the device's
detail stays next to the code in the ledger and the manifest.
"""

from __future__ import annotations

from app.exports.models import Export, ExportState

EXPORT_ERRORS = {
    "NvrUnreachable": "NVR tidak dapat dihubungi",
    "NvrAuthFailed": "NVR menolak nama pengguna atau kata sandi",
    "NvrBusy": "NVR sedang sibuk",
    "RecordingNotFound": "tidak ada rekaman pada rentang waktu ini",
    "ReplayError": "NVR mengirim data yang tidak dapat dibaca",
    "WorkerLost": "proses ekspor terhenti dan diulang",
    "NoPlaybackSlot": "menunggu giliran pemutaran di NVR",
}
NOT_EXPORTED = ("NotExported", "rekaman belum diekspor")
NOT_FINISHED = ("ExportNotFinished", "ekspor belum selesai")


def no_clip_reason(export: Export | None) -> tuple[str, str, str]:
    """(code, words, device's detail) of an item whose latest export left no clip."""
    if export is None:
        return (*NOT_EXPORTED, "")
    if export.state is not ExportState.FAILED:
        return (*NOT_FINISHED, f"state {export.state.value}")
    code = export.error_code or "ExportFailed"
    words = EXPORT_ERRORS.get(code, f"ekspor gagal ({code})")
    return code, words, export.error_detail or ""
