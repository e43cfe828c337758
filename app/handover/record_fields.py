"""What a court's checklist asks of the record beyond the clip itself (issue 20 item 7, after
the UK NPCC guidance, the ONVIF Export File Format and SWGDE): the legal basis with each
decision and its time, how long copies live, where the camera is, and what plays the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.cameras.models import Camera
from app.requests.models import EvidenceRequest
from app.settings import Settings
from app.sop.models import StepRecord

PLAYERS = {
    "h264": "any MP4 player (VLC, ffplay, Windows Media Player; a web browser plays H.264)",
    "hevc": "VLC or ffplay (H.265: not every browser or Windows player plays it)",
}


def legal_basis(session: Session, request: EvidenceRequest, authority: str) -> dict[str, Any]:
    """The letter and every SOP decision on it, in step order: who, in what role, when."""
    records = session.scalars(
        select(StepRecord).where(StepRecord.request_id == request.id)
        .order_by(StepRecord.step_number, StepRecord.performed_at)
    )  # fmt: skip
    decisions = []
    for record in records:
        actor = session.get(User, record.actor_id)
        decisions.append({
            "step": record.step_number, "action": record.action, "outcome": record.outcome.value,
            "role": record.actor_role, "by": actor.full_name if actor else "",
            "decided_at": record.performed_at.isoformat().replace("+00:00", "Z"),
            "met_standard": record.met_standard,
        })  # fmt: skip
    return {"letter_number": request.letter_number,
            "letter_date": request.letter_date.isoformat(), "authority": authority,
            "purpose": request.purpose, "decisions": decisions}  # fmt: skip


def retention(settings: Settings) -> dict[str, Any]:
    days = settings.delivery_ttl_days
    statement = (
        f"Delivered copies (Google Drive or Saksi's download link) are deleted {days} days after "
        "delivery, with a record of the deletion (berita acara pemusnahan); a physical medium "
        "is the recipient's. The office keeps this package under its records policy."
    )
    return {"delivery_ttl_days": days, "statement": statement}


def coordinates_of(camera: Camera) -> dict[str, float] | None:
    if camera.latitude is None or camera.longitude is None:
        return None
    return {"latitude": float(camera.latitude), "longitude": float(camera.longitude)}


def media_of(clip: Path, codec: str) -> dict[str, str]:
    """Container, codec, profile (from the stream's parameters: nothing is decoded), player."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        profile = str(stream.codec_context.profile or "")
    return {"container": "MP4 (ISO/IEC 14496-14)", "codec": codec, "profile": profile,
            "player": PLAYERS.get(codec, "ffplay")}  # fmt: skip
