"""A download manager's Range requests make one custody event, not one each (issue 17: 60 s
of 50 clients added 4 855 events); a link's request rate is limited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from app.clock import FrozenClock
from app.delivery.access import merge_ranges
from app.delivery.backends import local_backend
from app.delivery.tasks import close_download_sessions
from app.runtime import Runtime, set_current
from custody.ledger import events_table

SIZE = 200 * 1024


def _link(runtime: Runtime, tmp_path: Path) -> tuple[str, bytes]:
    """A local delivery of one file; return its link's token and the file's bytes."""
    body = bytes(range(256)) * (SIZE // 256)
    source = tmp_path / "klip.mp4"
    source.write_bytes(body)
    backend = local_backend(runtime)
    container = backend.create_container("SKS-2026-00077")
    backend.upload(container, source)
    shared = backend.share(container, "penyidik@polres.example.go.id", runtime.clock.now())
    return shared.url.rsplit("/", 1)[1], body


def _events(connection: Connection, action: str) -> list[dict[str, object]]:
    rows = connection.execute(
        select(events_table.c.canonical).where(events_table.c.action == action)
    ).scalars()
    return [json.loads(row) for row in rows]


def test_two_hundred_range_requests_are_one_access_event(
    client: TestClient, runtime: Runtime, clock: FrozenClock, connection: Connection,
    tmp_path: Path,
) -> None:  # fmt: skip
    token, body = _link(runtime, tmp_path)
    chunk = SIZE // 200
    for n in range(200):  # a download manager: 200 pieces, a second apart
        first, last = n * chunk, (n + 1) * chunk - 1
        piece = client.get(f"/unduh/{token}/klip.mp4", headers={"Range": f"bytes={first}-{last}"})
        assert piece.status_code == 206
        assert piece.content == body[first : last + 1]
        clock.advance(timedelta(seconds=1))

    accessed = _events(connection, "delivery.accessed")
    assert len(accessed) == 1
    assert accessed[0]["result"] == {"bytes": [0, chunk - 1]}

    set_current(runtime)
    assert close_download_sessions() == 0  # still in use
    clock.advance(timedelta(minutes=runtime.settings.download_session_minutes))
    assert close_download_sessions() == 1
    closed = _events(connection, "delivery.access_closed")
    assert len(closed) == 1
    totals = closed[0]["result"]
    assert isinstance(totals, dict)
    assert (totals["requests"], totals["bytes_served"]) == (200, 200 * chunk)
    assert totals["ranges"] == [[0, 200 * chunk - 1]]
    assert len(_events(connection, "delivery.accessed")) == 1


def test_a_new_session_after_the_window_is_a_new_event(
    client: TestClient, runtime: Runtime, clock: FrozenClock, connection: Connection,
    tmp_path: Path,
) -> None:  # fmt: skip
    token, _body = _link(runtime, tmp_path)
    assert client.get(f"/unduh/{token}/klip.mp4").status_code == 200
    clock.advance(timedelta(minutes=runtime.settings.download_session_minutes, seconds=1))
    assert client.get(f"/unduh/{token}/klip.mp4").status_code == 200
    assert len(_events(connection, "delivery.accessed")) == 2


def test_a_link_is_rate_limited(
    client: TestClient, runtime: Runtime, clock: FrozenClock, tmp_path: Path
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"download_requests_per_link": 10})
    token, _body = _link(runtime, tmp_path)
    answers = [client.get(f"/unduh/{token}/klip.mp4", headers={"Range": "bytes=0-99"})
               for _ in range(11)]  # fmt: skip
    assert [a.status_code for a in answers] == [206] * 10 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert set(answers[-1].json()) == {"error", "detail"}
    clock.advance(timedelta(seconds=int(answers[-1].headers["Retry-After"])))
    assert client.get(f"/unduh/{token}/klip.mp4", headers={"Range": "bytes=0-9"}).status_code == 206


def test_ranges_merge_and_stay_bounded() -> None:
    assert merge_ranges([[10, 19], [0, 9], [30, 39], [15, 25]]) == [[0, 25], [30, 39]]
    scattered = [[n * 10, n * 10 + 4] for n in range(100)]
    merged = merge_ranges(scattered)
    assert len(merged) == 32
    assert merged[0][0] == 0
    assert merged[-1][1] == 994
