"""A player for a finished clip on the request page (issue 19, item 7): H.264 plays in the
browser as it is on disk; H.265 keeps the contact sheet; each playback is a custody event."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.db import unit_of_work
from app.delivery.models import Delivery, DeliveryState
from app.exports.models import Export, ExportState
from app.handover.models import EvidencePackage
from app.runtime import Runtime
from custody import ledger
from tests.app.factories import PASSWORD, Factory, walk_to_export_step


def _clip(path: Path, codec: str) -> bytes:
    """A 64×64 clip of five frames, encoded here (the test's own footage, not a product path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=5)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.time_base = Fraction(1, 5)
        for n in range(5):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([n * 40 % 256]) * plane.buffer_size)
            frame.pts = n
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


def _finished(session: Session, runtime: Runtime, request_id: int, codec: str) -> Export:
    export = session.query(Export).filter_by(request_id=request_id).first()
    assert export is not None
    relative = f"exports/{request_id}/{export.id}-{codec}.mp4"
    content = _clip(runtime.settings.data_dir / relative, codec)
    export.state, export.file_path = ExportState.DONE, relative
    export.sha256, export.size_bytes = hashlib.sha256(content).hexdigest(), len(content)
    session.commit()
    return export


def _viewings(runtime: Runtime, request_id: int) -> list[dict[str, Any]]:
    with unit_of_work(runtime.sessions) as session:
        stored = list(ledger.read(session.connection(), request_id))
    return [json.loads(e.canonical) for e in stored if e.action == "export.viewed"]


@pytest.fixture
def started(factory: Factory, client: TestClient) -> tuple[int, dict[Role, str]]:
    created, people = walk_to_export_step(factory)
    operator = factory.headers(people[Role.OPERATOR])
    client.post(f"/api/v1/requests/{created['id']}/exports", headers=operator)
    return created["id"], {role: user.username for role, user in people.items()}


def test_an_h264_clip_plays_as_stored_and_each_playback_is_on_the_ledger(
    started: tuple[int, dict[Role, str]], client: TestClient, session: Session, runtime: Runtime
) -> None:
    request_id, names = started
    export = _finished(session, runtime, request_id, "libx264")
    client.post("/masuk", data={"username": names[Role.OPERATOR], "password": PASSWORD})
    stored = (runtime.settings.data_dir / str(export.file_path)).read_bytes()

    page = client.get(f"/permintaan/{request_id}").text
    first = client.get(f"/api/v1/exports/{export.id}/clip", headers={"Range": "bytes=0-"})
    seek = client.get(f"/api/v1/exports/{export.id}/clip", headers={"Range": "bytes=100-199"})

    assert f'data-player="{export.id}"' in page
    assert 'preload="none"' in page  # loading the page is not watching the clip
    assert first.status_code == 206
    assert first.content == stored  # as on disk: nothing transcoded
    assert first.headers["content-type"] == "video/mp4"
    assert seek.status_code == 206
    assert seek.content == stored[100:200]
    [viewed] = _viewings(runtime, request_id)  # the seek is the same playback
    assert viewed["object"]["export"] == export.id
    assert viewed["object"]["sha256"] == export.sha256
    assert viewed["performer"]["role"] == "operator"


def test_an_h265_clip_gets_no_player_and_the_pemohon_no_clip(
    started: tuple[int, dict[Role, str]], client: TestClient, session: Session, runtime: Runtime
) -> None:
    request_id, names = started
    export = _finished(session, runtime, request_id, "libx265")
    client.post("/masuk", data={"username": names[Role.OPERATOR], "password": PASSWORD})

    page = client.get(f"/permintaan/{request_id}").text
    refused = client.get(f"/api/v1/exports/{export.id}/clip")
    client.post("/keluar", data={})
    client.post("/masuk", data={"username": names[Role.PEMOHON], "password": PASSWORD})
    pemohon = client.get(f"/api/v1/exports/{export.id}/clip")

    assert "data-player=" not in page
    assert refused.status_code == 404
    assert refused.json()["error"] == "NotFound"
    assert pemohon.status_code == 403
    assert _viewings(runtime, request_id) == []


def _delivered(session: Session, runtime: Runtime, export: Export, days_left: int) -> None:
    """The package holding the clip, and a live local delivery of it (as the handover leaves)."""
    now, operator = runtime.clock.now(), export.created_by_id
    session.add(EvidencePackage(
        request_id=export.request_id, directory="packages/x", zip_path="packages/x.zip",
        zip_sha256="0" * 64, zip_size=1, manifest_sha256="0" * 64, checkpoint_size=1,
        clips=[{"exhibit": "BB-1", "sha256": export.sha256}], built_at=now,
        built_by_id=operator,
    ))  # fmt: skip
    session.add(Delivery(
        request_id=export.request_id, method="local", state=DeliveryState.SHARED,
        recipient="reskrim@polres.example.go.id", created_at=now, created_by_id=operator,
        shared_at=now, purge_due_at=now + timedelta(days=days_left),
    ))  # fmt: skip
    session.commit()


def test_the_pemohon_plays_a_clip_only_while_it_is_delivered_to_them(
    started: tuple[int, dict[Role, str]], client: TestClient, session: Session, runtime: Runtime
) -> None:
    request_id, names = started
    export = _finished(session, runtime, request_id, "libx264")
    client.post("/masuk", data={"username": names[Role.PEMOHON], "password": PASSWORD})
    before = client.get(f"/api/v1/exports/{export.id}/clip")
    _delivered(session, runtime, export, days_left=14)

    page = client.get(f"/permintaan/{request_id}").text
    played = client.get(f"/api/v1/exports/{export.id}/clip")

    assert before.status_code == 403  # not delivered yet: the package is not theirs
    assert f'data-player="{export.id}"' in page
    assert played.status_code == 200
    assert played.content == (runtime.settings.data_dir / str(export.file_path)).read_bytes()
    [viewed] = _viewings(runtime, request_id)
    assert viewed["performer"]["role"] == "pemohon"
    delivery = session.query(Delivery).filter_by(request_id=request_id).one()
    delivery.purge_due_at = runtime.clock.now() - timedelta(minutes=1)
    session.commit()
    assert client.get(f"/api/v1/exports/{export.id}/clip").status_code == 403  # purge due
