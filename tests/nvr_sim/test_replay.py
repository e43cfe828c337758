"""ONVIF replay from the simulator: exact ranges, true frame times, flags, pause, bit-exact NALs."""

from __future__ import annotations

import base64
import gc
import re
import socket
import struct
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nvr_sim import rtsp_server
from nvr_sim.config import CameraConfig, default_cameras
from nvr_sim.rtp import PARAMETER_SET_TYPES, nal_type
from nvr_sim.simulator import NvrSimulator
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config
from tests.nvr_sim.replay_client import ReplayClient, clock

C, E, D, T = 0x80, 0x40, 0x20, 0x10


@pytest.fixture
def client(simulator: NvrSimulator) -> Iterator[ReplayClient]:
    client = ReplayClient(simulator.endpoints.rtsp_port, USER, PASSWORD)
    yield client
    client.close()


def replay_url(simulator: NvrSimulator, channel: int) -> str:
    return simulator.endpoints.rtsp(f"/onvif/replay/Recording_{channel}")


def truth(simulator: NvrSimulator, channel: int, start: datetime, end: datetime) -> list[object]:
    camera = simulator.config.camera(channel)
    return [item.unit for item in simulator.archive.replay(camera, start, end)]


def test_a_closed_clock_range_yields_exactly_its_units(
    simulator: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    start, end = anchor + timedelta(seconds=3.5), anchor + timedelta(seconds=15.5)
    url = replay_url(simulator, 1)
    client.setup(url)

    reply = client.request(
        "PLAY", url, Range=f"clock={clock(start)}-{clock(end)}", Rate_Control="no",
        Require="onvif-replay",
    )  # fmt: skip
    units, ended = client.units()

    expected = truth(simulator, 1, start, end)
    assert reply.status == 200
    # The reply starts at the clean point at or before the start: the key frame at +2 s.
    assert reply.headers["range"] == f"clock={clock(anchor + timedelta(seconds=2))}-{clock(end)}"
    assert ended
    assert [u.time for u in units] == [x.time for x in expected]  # type: ignore[attr-defined]
    assert units[0].time == anchor + timedelta(seconds=2)
    assert units[-1].time == anchor + timedelta(seconds=15.4)  # the last frame before the end
    assert [list(x.nals) for x in expected] == [u.nals for u in units]  # type: ignore[attr-defined]
    assert units[0].flags & C
    assert units[-1].flags & T
    assert all(u.cseq == client.cseq & 0xFF for u in units)


def test_gaps_are_flagged_end_and_discontinuity(
    simulator: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    """Camera 2 is motion-only: every fourth 10-second segment is missing."""
    gap = anchor + timedelta(seconds=30)  # segment number ≡ 3 (mod 4): not recorded
    start, end = gap - timedelta(seconds=4), gap + timedelta(seconds=14)
    url = replay_url(simulator, 2)
    client.setup(url)

    client.request("PLAY", url, Range=f"clock={clock(start)}-{clock(end)}", Rate_Control="no")
    units, _ended = client.units()

    before = [u for u in units if u.time and u.time < gap]
    after = [u for u in units if u.time and u.time >= gap]
    assert before[-1].flags & E
    assert before[-1].time == gap - timedelta(seconds=0.2)
    assert after[0].time == gap + timedelta(seconds=10)
    assert after[0].flags & D
    assert not any(u.flags & E for u in before[:-1])
    assert units[-1].flags & T


def test_pause_and_a_second_play_immediate(
    simulator: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    url = replay_url(simulator, 1)
    client.setup(url)
    client.request("PLAY", url, Range=f"clock={clock(anchor)}-", Rate_Control="yes")
    first, _ = client.units(limit=3)

    assert client.request("PAUSE", url).status == 200
    assert client.silent_for(1.0)  # paused: nothing more arrives
    jump = anchor + timedelta(seconds=21)
    reply = client.request(
        "PLAY", url, Range=f"clock={clock(jump)}-", Rate_Control="no", Immediate="yes"
    )
    after, _ = client.units(limit=5)

    assert [u.time for u in first] == [anchor + timedelta(seconds=i * 0.2) for i in range(3)]
    assert reply.headers["range"].startswith(f"clock={clock(anchor + timedelta(seconds=20))}-")
    assert after[0].time == anchor + timedelta(seconds=20)
    assert after[0].cseq == client.cseq & 0xFF


def test_authentication_and_unknown_options(simulator: NvrSimulator, anchor: datetime) -> None:
    url = replay_url(simulator, 1)
    wrong = ReplayClient(simulator.endpoints.rtsp_port, USER, "salah")
    right = ReplayClient(simulator.endpoints.rtsp_port, USER, PASSWORD)
    try:
        refused = wrong.request("DESCRIBE", url)
        unsupported = right.request("DESCRIBE", url, Require="onvif-replay, funky-feature")
        missing = right.request("DESCRIBE", simulator.endpoints.rtsp("/onvif/replay/Recording_9"))
    finally:
        wrong.close()
        right.close()

    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith("Digest realm=")
    assert unsupported.status == 551
    assert unsupported.headers["unsupported"] == "onvif-replay, funky-feature"
    assert missing.status == 404


@pytest.mark.parametrize("units_in_range", [29, 30])
def test_units_fetched_and_written_in_batches_lose_nothing(
    simulator: NvrSimulator,
    client: ReplayClient,
    anchor: datetime,
    monkeypatch: pytest.MonkeyPatch,
    units_in_range: int,
) -> None:
    """Batches of 3 units: 29 units end on a partial batch, 30 on a full one; the T flag still
    marks only the last unit, whichever batch it is in."""
    monkeypatch.setattr(rtsp_server, "WRITE_UNITS", 3)
    start, end = anchor, anchor + timedelta(seconds=units_in_range / 5)
    url = replay_url(simulator, 1)
    client.setup(url)

    client.request("PLAY", url, Range=f"clock={clock(start)}-{clock(end)}", Rate_Control="no")
    units, ended = client.units()

    expected = truth(simulator, 1, start, end)
    assert ended
    assert len(units) == units_in_range
    assert [list(x.nals) for x in expected] == [u.nals for u in units]  # type: ignore[attr-defined]
    assert [bool(u.flags & T) for u in units] == [False] * (units_in_range - 1) + [True]


def test_describe_gives_the_parameter_sets_without_encoding_a_segment(
    tmp_path: Path, anchor: datetime
) -> None:
    """Guards a start-up stall: DESCRIBE took SPS/PPS from the oldest segment kept, which moves
    every minute, so the first DESCRIBE of each minute encoded a whole segment (at 720p longer
    than a client's 15 s timeout). They depend only on the encoder settings."""
    cameras = (CameraConfig(1, "Kamera 1"), CameraConfig(2, "Kamera 2", codec="h265"))
    with running(small_config(tmp_path, cameras)) as simulator:
        client = ReplayClient(simulator.endpoints.rtsp_port, USER, PASSWORD)
        try:
            sdps = [client.request("DESCRIBE", replay_url(simulator, c.channel)) for c in cameras]
        finally:
            client.close()
        assert not list(tmp_path.rglob("*.json"))  # no segment encoded

        for camera, sdp in zip(cameras, sdps, strict=True):
            announced = re.findall(r"sprop-[a-z-]+=([^;\r]+)", sdp.body.decode())
            nals = ",".join(announced).split(",")
            first = simulator.archive.footage.segment(camera, anchor)[0]
            in_stream = {nal_type(camera.codec, n): n for n in first.nals}
            kinds = PARAMETER_SET_TYPES[camera.codec]
            assert [base64.b64decode(n) for n in nals] == [in_stream[k] for k in kinds]


def test_a_client_resetting_the_connection_ends_its_stream(
    sim_cache: Path, anchor: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards a leak: a reset connection ended the read loop with an error, which left the stream
    task running until its next write failed ("Task exception was never retrieved") or the
    loop closed under it ("Task was destroyed but it is pending!")."""
    with running(small_config(sim_cache, default_cameras(1))) as simulator:
        client = ReplayClient(simulator.endpoints.rtsp_port, USER, PASSWORD)
        url = replay_url(simulator, 1)
        client.setup(url)
        client.request("PLAY", url, Range=f"clock={clock(anchor)}-", Rate_Control="yes")
        client.units(limit=2)
        # SO_LINGER 0: closing sends a reset instead of a FIN.
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        time.sleep(0.5)
    gc.collect()

    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
