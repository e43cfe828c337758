"""Build the evidence package of a request from its finished exports. Services never commit.

A checkpoint is signed in the building transaction, so every clip's receipt proves its custody
event against a checkpoint that exists; the package's own ZIP then becomes a custody event,
which makes the ZIP's hash answerable on the public verification page.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency
from app.auth.models import User
from app.cameras.macs import mac_addresses
from app.custody import service as custody
from app.exports.models import Export, ExportState
from app.exports.pipeline import exhibit_number
from app.exports.reasons import no_clip_reason
from app.exports.service import latest_by_item
from app.handover import record_fields
from app.handover.guard import check_may_hand_over
from app.handover.models import EvidencePackage
from app.requests.models import EvidenceRequest, RequestItem
from app.runtime import Runtime
from custody import ledger, stored_tree
from custody.merkle import leaf_hash
from custody.package import (
    ClipEntry,
    ClipSource,
    MasterEntry,
    PackageInfo,
    UnavailableItem,
    build,
    file_sha256,
)
from custody.receipts import Receipt, verify
from nvr_adapters.annexb import elementary_stream_sha256

PACKAGED_STATES = (ExportState.DONE, ExportState.PARTIAL)
TRIMMING_RULE = (
    "the clip starts at the key frame at or before the window start, so its first picture "
    "decodes; it ends with the last frame recorded before the window end"
)

# What plays a master: the vendor's own player, or FFmpeg's, which reads both formats.
MASTER_PLAYERS = {
    "mpeg-ps": "pemutar Hikvision (VSPlayer) atau ffplay",
    "dav": "pemutar Dahua (Smart Player) atau ffplay",
}


@dataclass(frozen=True)
class _Contents:
    clips: list[ClipSource]
    unavailable: list[UnavailableItem]


def package_of(session: Session, request: EvidenceRequest) -> EvidencePackage | None:
    return session.scalars(
        select(EvidencePackage).where(EvidencePackage.request_id == request.id)
    ).one_or_none()


def build_package(
    runtime: Runtime, session: Session, request: EvidenceRequest, user: User, now: datetime
) -> EvidencePackage:
    """Build the package once; a second call returns the one already built."""
    check_may_hand_over(runtime.sop, request, user)
    existing = package_of(session, request)
    if existing is not None:
        return existing
    exports = _finished_exports(session, request)
    checkpoint = custody.issue_checkpoint(
        session, runtime.office_key, runtime.settings.custody_origin, now
    )
    sources = [
        _clip_source(runtime, session, request, export, index, checkpoint)
        for index, export in enumerate(exports, start=1)
    ]
    unavailable = _unavailable(session, request, {export.item_id for export in exports})
    out_dir = runtime.settings.data_dir / "packages"
    info = _info(runtime, session, request, now)
    root, archive = build(info, sources, runtime.office_key, out_dir, unavailable)
    try:
        contents = _Contents(sources, unavailable)
        return _record(
            runtime, session, request, user, now, (root, archive), contents, checkpoint.tree_size
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        archive.unlink(missing_ok=True)
        raise


def _finished_exports(session: Session, request: EvidenceRequest) -> list[Export]:
    exports = list(
        session.scalars(
            select(Export)
            .join(RequestItem, RequestItem.id == Export.item_id)
            .where(Export.request_id == request.id, Export.state.in_(PACKAGED_STATES))
            .order_by(RequestItem.position, Export.id)
        )
    )
    if not exports:
        raise errors.ExportsIncomplete("the request has no finished export to package yet")
    return exports


def _unavailable(
    session: Session, request: EvidenceRequest, clipped: set[int]
) -> list[UnavailableItem]:
    """Every requested item without a clip, with why its latest export left none."""
    latest = latest_by_item(session, request.id)
    missing = []
    for item in sorted(request.items, key=lambda i: i.position):
        if item.id in clipped:
            continue
        code, words, detail = no_clip_reason(latest.get(item.id))
        missing.append(UnavailableItem(
            exhibit=exhibit_number(request, item), camera=item.camera.name,
            location=item.camera.location,
            requested_window=(_iso(item.window_start_at), _iso(item.window_end_at)),
            reason=words[:1].upper() + words[1:], reason_code=code, detail=detail,
        ))  # fmt: skip
    return missing


def _info(
    runtime: Runtime, session: Session, request: EvidenceRequest, now: datetime
) -> PackageInfo:
    agency = session.get(Agency, request.agency_id)
    office = runtime.settings.office
    return PackageInfo(
        request_number=request.number,
        letter_number=request.letter_number,
        agency=agency.name if agency else "",
        export_unit={"name": office.name, "host": socket.gethostname()},
        generated_at=_iso(now),
        custody_origin=runtime.settings.custody_origin,
        verification_url=f"{runtime.settings.public_url.rstrip('/')}/verifikasi",
        legal_basis=record_fields.legal_basis(session, request, agency.name if agency else ""),
        retention=record_fields.retention(runtime.settings),
    )


def _clip_source(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    export: Export,
    index: int,
    checkpoint: ledger.StoredCheckpoint,
) -> ClipSource:
    assert export.sha256 is not None
    assert export.file_path is not None
    event = _file_event(session, request.id, export.sha256, "export.file_written")
    receipt = _receipt(runtime, session, event, checkpoint)
    clip = runtime.settings.data_dir / export.file_path
    entry = _entry(runtime, session, request, export, index)
    streamed = _elementary_stream(clip, entry.file)
    media = record_fields.media_of(clip, streamed["codec"])
    entry = replace(entry, elementary_stream=streamed, media=media)
    master = None
    if export.master_path is not None and export.master_sha256 is not None:
        made = _file_event(session, request.id, export.master_sha256, "export.master_written")
        master = (runtime.settings.data_dir / export.master_path,
                  _receipt(runtime, session, made, checkpoint))  # fmt: skip
    return ClipSource(entry, clip, receipt, master)


def _receipt(
    runtime: Runtime, session: Session, event: ledger.StoredEvent, at: ledger.StoredCheckpoint
) -> Receipt:
    """The event's inclusion proof against the checkpoint `at`, from the stored interior
    hashes (O(log n) rows, not every leaf), checked against the signed checkpoint before it
    goes into the package: a wrong stored hash can never make a receipt that does not verify."""
    if leaf_hash(event.canonical) != event.leaf_hash:
        raise errors.Conflict(f"custody event {event.seq} does not hash to its stored leaf")
    proof = stored_tree.inclusion_proof(session.connection(), event.seq - 1, at.tree_size)
    receipt = Receipt(event.canonical, event.seq - 1, tuple(proof), at.note)
    verify(receipt, runtime.settings.custody_origin, runtime.office_key.public_bytes)
    return receipt


def _elementary_stream(clip: Path, name: str) -> dict[str, str]:
    """The hash a recipient recomputes with stock FFmpeg, and the command for the clip's name
    inside the package (from the clip's samples: nothing is decoded)."""
    streamed = elementary_stream_sha256(clip)
    return {"codec": streamed.codec, "sha256": streamed.sha256, "command": streamed.command(name)}


def _file_event(session: Session, request_id: int, sha256: str, action: str) -> ledger.StoredEvent:
    for event in ledger.read(session.connection(), request_id=request_id):
        if event.sha256 == sha256 and event.action == action:
            return event
    raise errors.Conflict(f"no custody event records the file {sha256}")


def _master_entry(export: Export, index: int, camera: str) -> MasterEntry | None:
    """The device's native file the clip was derived from, if the NVR gave one."""
    if export.master_path is None or export.master_format is None:
        return None
    assert export.master_sha256 is not None
    assert export.master_size is not None
    suffix = Path(export.master_path).suffix
    return MasterEntry(
        file=f"masters/{index:02d}-{_slug(camera)}{suffix}", format=export.master_format,
        sha256=export.master_sha256, size=export.master_size,
        raw_sha256=export.master_raw_sha256 or "", player=MASTER_PLAYERS[export.master_format],
    )  # fmt: skip


def _entry(
    runtime: Runtime, session: Session, request: EvidenceRequest, export: Export, index: int
) -> ClipEntry:
    item = session.get(RequestItem, export.item_id)
    operator = session.get(User, export.created_by_id)
    assert item is not None
    assert export.sha256 is not None
    assert export.size_bytes is not None
    camera, nvr = item.camera, item.camera.nvr
    exhibit = exhibit_number(request, item)
    device = export.device or {}
    return ClipEntry(
        exhibit=exhibit,
        file=f"clips/{index:02d}-{_slug(camera.name)}.mp4",
        sha256=export.sha256,
        size=export.size_bytes,
        bit_exact_master=True,
        camera=camera.name,
        location=camera.location,
        source=camera.source_token or f"channel {camera.channel}",
        nvr_address=f"{nvr.host}:{nvr.http_port} (RTSP {nvr.rtsp_port})",
        requested_window=(_iso(item.window_start_at), _iso(item.window_end_at)),
        delivered_window=(
            _iso_or_empty(export.first_frame_at),
            _iso_or_empty(export.last_frame_at),
        ),
        gaps=export.gaps or [],
        nvr={key: str(device.get(key, "")) for key in ("make", "model", "firmware", "serial")}
        | {"vendor": nvr.vendor.value, "name": nvr.name},
        clock_offset=export.clock or {"method": "not measured"},
        time_zone=f"UTC in files and manifest; NVR local zone {nvr.timezone}; documents in "
        f"{runtime.settings.timezone}",
        export_started_at=_iso(export.created_at),
        export_finished_at=_iso_or_empty(export.finished_at),
        tool={"name": custody.INSTRUMENT.tool, "version": custody.INSTRUMENT.version},
        operator=operator.full_name if operator else "",
        trimming={"rule": TRIMMING_RULE} | (export.trimming or {}),
        raw_sha256=export.raw_sha256 or "",
        method={"method": export.method or "playback", **(export.method_detail or {})},
        mac_addresses=mac_addresses(camera, device),
        master=_master_entry(export, index, camera.name),
        coordinates=record_fields.coordinates_of(camera),
    )


def _record(
    runtime: Runtime,
    session: Session,
    request: EvidenceRequest,
    user: User,
    now: datetime,
    paths: tuple[Path, Path],
    contents: _Contents,
    size: int,
) -> EvidencePackage:
    root, archive = paths
    sources = contents.clips
    data_dir = runtime.settings.data_dir
    package = EvidencePackage(
        request_id=request.id,
        directory=str(root.relative_to(data_dir)),
        zip_path=str(archive.relative_to(data_dir)),
        zip_sha256=file_sha256(archive),
        zip_size=archive.stat().st_size,
        manifest_sha256=file_sha256(root / "manifest.json"),
        clips=[_clip_summary(source) for source in sources],
        unavailable=[asdict(item) for item in contents.unavailable],
        checkpoint_size=size,
        built_at=now,
        built_by_id=user.id,
    )
    session.add(package)
    session.flush()
    custody.record(
        session, "package.built", custody.performer(user), now,
        object={"request": request.number, "clips": len(sources), "checkpoint_size": size,
                "unavailable": [item.exhibit for item in contents.unavailable]},
        result={"file": package.zip_path, "sha256": package.zip_sha256, "size": package.zip_size,
                "manifest_sha256": package.manifest_sha256},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
    return package


def _clip_summary(source: ClipSource) -> dict[str, Any]:
    entry = source.entry
    return {
        "exhibit": entry.exhibit, "file": entry.file, "sha256": entry.sha256, "size": entry.size,
        "camera": entry.camera, "location": entry.location,
        "requested_window": list(entry.requested_window),
        "delivered_window": list(entry.delivered_window), "gaps": entry.gaps,
        "clock_offset": entry.clock_offset,
    }  # fmt: skip


def _slug(text: str) -> str:
    cleaned = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in cleaned.split("-") if part) or "kamera"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _iso_or_empty(moment: datetime | None) -> str:
    return _iso(moment) if moment else ""
