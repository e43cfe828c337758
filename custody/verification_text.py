"""VERIFIKASI.txt: how a recipient checks the package, in Bahasa Indonesia."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custody.package import ClipEntry, PackageInfo, UnavailableItem


def verification_text(
    info: PackageInfo, clips: list[ClipEntry], unavailable: Sequence[UnavailableItem] = (),
    checkpoint_key: str = "",
) -> str:  # fmt: skip
    """Write the recipient's instructions for this package."""
    unit = info.export_unit.get("name", "")
    hashes = "\n".join(f"  {clip.sha256}  {clip.file}" for clip in clips)
    return (
        _instructions(info, unit, hashes) + _receipts_section(checkpoint_key)
        + _stream_section(clips) + _masters_section(clips) + _unavailable_section(unavailable)
    )  # fmt: skip


def _receipts_section(checkpoint_key: str) -> str:
    """How to check the receipts without Saksi's program (issue 20: an examiner had to guess)."""
    if not checkpoint_key:
        return ""
    return f"""
Memeriksa bukti pencatatan tanpa program Saksi
----------------------------------------------
Checkpoint pada receipts/ ditandatangani dengan kunci Ed25519 yang sama dengan
saksi.pub. Dalam format C2SP signed note (c2sp.org/signed-note) kunci
pemeriksanya adalah (juga di berkas saksi.vkey):

    {checkpoint_key}

Setiap receipt memuat, sebagai data "extra", peristiwa buku besar yang dicatat
saat ekspor (JSON kanonis). Hash daunnya SHA-256(0x00 || peristiwa) (RFC 9162);
bukti inklusinya harus cocok dengan akar checkpoint. Data "extra" baru bermakna
bila "result.sha256" di dalamnya sama dengan SHA-256 rekaman yang Anda periksa.
Nomor urut peristiwa ("seq") adalah indeks daun pada receipt ditambah 1.
"""


def _stream_section(clips: list[ClipEntry]) -> str:
    """How to recompute each clip's video-stream hash with stock FFmpeg."""
    streamed = [clip for clip in clips if clip.elementary_stream.get("sha256")]
    if not streamed:
        return ""
    lines = [
        f"  {clip.elementary_stream['sha256']}  {clip.file}\n"
        f"      {clip.elementary_stream['command']}"
        for clip in streamed
    ]
    return f"""
Hash aliran video (dapat dihitung ulang dengan FFmpeg)
------------------------------------------------------
Selain hash berkas, manifest.json mencatat hash aliran video setiap rekaman
("elementary_stream"), yaitu aliran H.264/H.265 yang sama tanpa wadah MP4.
Dengan FFmpeg 5.1 atau lebih baru, jalankan perintah di bawah setiap hash di
dalam folder paket ini; hasilnya harus sama persis. Ini membuktikan isi
gambar tidak berubah walaupun wadah berkasnya dibuat ulang.

{chr(10).join(lines)}
"""


def _masters_section(clips: list[ClipEntry]) -> str:
    """The devices' own files, where the NVR gave them, and how they relate to the clips."""
    masters = [(clip, clip.master) for clip in clips if clip.master is not None]
    if not masters:
        return ""
    lines = [
        f"  {master.sha256}  {master.file}\n      format {master.format}, asal {clip.file};"
        f" diputar dengan {master.player}"
        for clip, master in masters
    ]
    return f"""
Berkas asli NVR (master)
------------------------
Untuk rekaman berikut NVR menyerahkan berkas dalam formatnya sendiri. Berkas itu
disimpan utuh di folder masters/ sebagai master; berkas MP4 di clips/ adalah
salinan kerja yang diambil darinya tanpa re-encode. Di manifest.json, nilai
"raw_sha256" master dan salinan kerjanya sama: keduanya memuat bingkai video
yang persis sama.

{chr(10).join(lines)}
"""


def _unavailable_section(unavailable: Sequence[UnavailableItem]) -> str:
    """The requested items this package has no clip of, so none looks forgotten."""
    if not unavailable:
        return ""
    lines = [
        f"  {item.exhibit}  {item.camera} – {item.location}\n"
        f"      diminta {item.requested_window[0]} s.d. {item.requested_window[1]} (UTC)\n"
        f"      {item.reason}"
        for item in unavailable
    ]
    return f"""
Rekaman yang diminta tetapi tidak ada dalam paket ini
------------------------------------------------------
Untuk titik CCTV berikut tidak ada rekaman yang dapat diserahkan. Alasannya
tercatat di buku besar rantai penguasaan dan di manifest.json ("unavailable").

{chr(10).join(lines)}
"""


def _instructions(info: PackageInfo, unit: str, hashes: str) -> str:
    return f"""VERIFIKASI PAKET BUKTI REKAMAN CCTV
====================================

Nomor permintaan : {info.request_number}
Surat permohonan : {info.letter_number} ({info.agency})
Dibuat oleh      : {unit}
Waktu pembuatan  : {info.generated_at} (UTC)

Rekaman di folder clips/ adalah salinan persis aliran video dari NVR, tanpa
kompresi ulang (re-encode). Keterangan setiap rekaman (kamera, lokasi, rentang
waktu yang diminta dan yang diserahkan, jeda rekaman, selisih jam NVR) ada di
manifest.json.

Cara memeriksa
--------------
1. Keutuhan berkas. Di dalam folder paket ini jalankan:

       sha256sum -c SHA256SUMS

   Setiap baris harus berakhir dengan "OK". Satu bit saja yang berubah akan
   membuat baris berkas itu GAGAL.

2. Keaslian manifest. Dengan program minisign (https://jedisct1.github.io/minisign/):

       minisign -V -p saksi.pub -m manifest.json

   Hasil yang benar: "Signature and comment signature verified".
   Bandingkan isi saksi.pub dengan kunci publik resmi yang diumumkan kantor;
   berkas saksi.pub di dalam paket hanya untuk kemudahan.

3. Bukti pencatatan. Setiap rekaman punya berkas di receipts/ (format
   c2sp.org/tlog-proof) yang membuktikan bahwa ekspor rekaman itu tercatat di
   buku besar rantai penguasaan (chain of custody) kantor, di bawah checkpoint
   bertanda tangan "{info.custody_origin}". Periksa seluruh paket dengan:

       saksi verify package .

4. Halaman verifikasi. Buka {info.verification_url}
   lalu masukkan berkas rekaman (hash dihitung di peramban Anda, berkas tidak
   diunggah) atau tempelkan nilai SHA-256-nya untuk melihat kapan dan dengan
   BAST nomor berapa rekaman itu diserahkan.

SHA-256 setiap rekaman
----------------------
{hashes}
"""
