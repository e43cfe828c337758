"""Playing a finished clip in the browser (issue 19, item 7): staff, and the pemohon once delivered.

The clip is served as it is on disk (no transcoding: the evidence is never altered, not even for
a preview), so only codecs a browser decodes get a player: H.264 in MP4 plays everywhere; H.265
plays in few browsers, so its clips show the contact sheet instead. Staff may play any finished
clip; the pemohon (the agency portal) only the clips of their request's evidence package while
a delivery of it is live, the same footage their link downloads. Starting to watch is an access
to the evidence and goes into the custody ledger: the first request of a playback (no Range
header, or a range from byte 0), not every Range request a player makes while seeking.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import av
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import STAFF_ROLES, Role, User
from app.custody import service as custody
from app.delivery import service as delivery_service
from app.delivery.models import downloadable
from app.exports import service as exports_service
from app.exports.models import Export, ExportState
from app.handover import packaging
from app.requests.models import EvidenceRequest
from app.requests.service import check_can_read

# Codecs (FFmpeg's names) that every current browser decodes from an MP4.
BROWSER_CODECS = frozenset({"h264"})
PLAYABLE_STATES = frozenset({ExportState.DONE, ExportState.PARTIAL})


class NotDeliveredYet(errors.Forbidden):
    """The pemohon asked for a clip that is not (or no longer) delivered to them."""


def clip_codec(clip: Path) -> str:
    """The video codec of a clip from its sample entry (nothing is decoded)."""
    with av.open(str(clip)) as container:
        return str(container.streams.video[0].codec_context.name)


def playable(data_dir: Path, export: Export) -> bool:
    """Whether the export's clip can be offered to a browser's <video> player."""
    if export.state not in PLAYABLE_STATES or export.file_path is None:
        return False
    clip = data_dir / export.file_path
    return clip.is_file() and clip_codec(clip) in BROWSER_CODECS


def players(
    session: Session, data_dir: Path, user: User, request: EvidenceRequest, now: datetime
) -> list[Export]:
    """The clips of `request` that `user` may play in the page, in export order."""
    exports = exports_service.exports_of(session, request.id)
    if user.role is Role.PEMOHON:
        delivered = delivered_hashes(session, request, now)
        exports = [e for e in exports if e.sha256 in delivered]
    elif user.role not in STAFF_ROLES:
        return []
    return [e for e in exports if playable(data_dir, e)]


def delivered_hashes(session: Session, request: EvidenceRequest, now: datetime) -> frozenset[str]:
    """The SHA-256 of each clip in the request's package while a delivery of it is live."""
    live = any(downloadable(d, now) for d in delivery_service.deliveries_of(session, request))
    package = packaging.package_of(session, request)
    if not live or package is None:
        return frozenset()
    return frozenset(str(clip["sha256"]) for clip in package.clips)


def clip_to_play(
    session: Session, data_dir: Path, user: User, export: Export, now: datetime
) -> Path:
    """The clip file `user` may stream, or a refusal saying why there is none to play."""
    if user.role is Role.PEMOHON:
        request = session.get(EvidenceRequest, export.request_id)
        assert request is not None
        check_can_read(user, request)
        if export.sha256 not in delivered_hashes(session, request, now):
            raise NotDeliveredYet("a clip is the pemohon's to play once it is delivered to them")
    elif user.role not in STAFF_ROLES:
        raise errors.RoleNotPermitted(f"the role {user.role.value!r} may not play clips")
    if not playable(data_dir, export):
        raise errors.NotFound("this export has no clip a browser can play (H.264, finished)")
    assert export.file_path is not None
    return data_dir / export.file_path


def starts_playback(range_header: str | None) -> bool:
    """A player's first request: no range, or a range from the first byte."""
    if range_header is None:
        return True
    return range_header.replace(" ", "").lower().startswith("bytes=0-")


def record_viewing(session: Session, export_id: int, user: User, now: datetime) -> None:
    export = session.get(Export, export_id)
    assert export is not None
    request = session.get(EvidenceRequest, export.request_id)
    assert request is not None
    custody.record(
        session, "export.viewed", custody.performer(user), now,
        object={"request": request.number, "export": export.id, "file": export.file_path,
                "sha256": export.sha256},
        authorization=request.letter_number, request_id=request.id,
    )  # fmt: skip
