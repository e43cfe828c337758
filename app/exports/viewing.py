"""Playing a finished clip in the browser (issue 19, item 7): staff watch the working copy.

The clip is served as it is on disk (no transcoding: the evidence is never altered, not even for
a preview), so only codecs a browser decodes get a player: H.264 in MP4 plays everywhere; H.265
plays in few browsers, so its clips show the contact sheet instead. Starting to watch is an
access to the evidence and goes into the custody ledger: the first request of a playback (no
Range header, or a range from byte 0), not every Range request a player makes while seeking.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import av
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import User
from app.custody import service as custody
from app.exports.models import Export, ExportState
from app.requests.models import EvidenceRequest

# Codecs (FFmpeg's names) that every current browser decodes from an MP4.
BROWSER_CODECS = frozenset({"h264"})
PLAYABLE_STATES = frozenset({ExportState.DONE, ExportState.PARTIAL})


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


def clip_to_play(data_dir: Path, export: Export) -> Path:
    """The clip file to stream, or a refusal saying why there is none to play."""
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
