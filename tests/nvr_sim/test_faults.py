"""Fault injection per camera: refusals, dropped connections, stalls, a missing range, bad zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nvr_sim import CameraConfig, NvrSimulator, default_cameras
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config
from tests.nvr_sim.replay_client import ReplayClient, Reply, clock

FAULTS: dict[int, dict[str, float]] = {
    1: {"status": 503},
    2: {"drop_after_bytes": 20_000},
    3: {"missing_range": 1, "wrong_timezone_hours": -0.1},
    4: {"stall_seconds": 1.0, "drop_after_seconds": 0.0},
}


@pytest.fixture(scope="module")
def faulty(sim_cache: Path) -> Iterator[NvrSimulator]:
    with running(small_config(sim_cache, default_cameras(4), faults=FAULTS)) as simulator:
        yield simulator


@pytest.fixture
def client(faulty: NvrSimulator) -> Iterator[ReplayClient]:
    client = ReplayClient(faulty.endpoints.rtsp_port, USER, PASSWORD)
    yield client
    client.close()


def play(client: ReplayClient, sim: NvrSimulator, channel: int, anchor: datetime) -> Reply:
    url = sim.endpoints.rtsp(f"/onvif/replay/Recording_{channel}")
    client.setup(url)
    span = f"clock={clock(anchor)}-{clock(anchor + timedelta(seconds=20))}"
    return client.request("PLAY", url, Range=span, Rate_Control="no")


def test_play_refused_with_503(
    faulty: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    assert play(client, faulty, 1, anchor).status == 503


def test_connection_dropped_after_bytes(
    faulty: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    assert play(client, faulty, 2, anchor).status == 200
    with pytest.raises(EOFError):
        client.units()


def test_stall_then_drop_after_seconds(
    faulty: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    assert play(client, faulty, 4, anchor).status == 200
    assert client.silent_for(0.6)
    with pytest.raises(EOFError):
        client.units()


def test_missing_range_in_sdp_and_play_reply(
    faulty: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    url = faulty.endpoints.rtsp("/onvif/replay/Recording_3")
    described = client.request("DESCRIBE", url)
    assert b"a=range:" not in described.body
    assert b"a=x-onvif-track" in described.body
    reply = play(client, faulty, 3, anchor)
    assert reply.status == 200
    assert "range" not in reply.headers
    units, _ = client.units(limit=1)
    assert units[0].time == anchor


def test_wrong_time_zone_shifts_dahua_local_times(
    faulty: NvrSimulator, client: ReplayClient, anchor: datetime
) -> None:
    """Camera 3 reads local times in UTC+6:54 instead of WIB: its replay starts 6 minutes late."""
    local = anchor + timedelta(hours=7)
    end = local + timedelta(seconds=4)
    query = f"channel=3&starttime={local:%Y_%m_%d_%H_%M_%S}&endtime={end:%Y_%m_%d_%H_%M_%S}"
    url = faulty.endpoints.rtsp(f"/cam/playback?{query}")
    client.setup(url)
    assert client.request("PLAY", url).status == 200
    units, _ = client.units()

    camera = faulty.config.camera(3)
    shifted = anchor + timedelta(minutes=6)
    served = [u.nals for u in units]
    truth = [
        list(x.unit.nals)
        for x in faulty.archive.replay(camera, shifted, shifted + timedelta(seconds=4))
    ]
    honest = [
        list(x.unit.nals)
        for x in faulty.archive.replay(camera, anchor, anchor + timedelta(seconds=4))
    ]
    assert served == truth
    assert served != honest


# Faults for the first K PLAYs of a channel only (an NVR busy for a while, then serving again).
LIMITED: dict[int, dict[str, float]] = {
    1: {"status": 454, "first": 2},
    2: {"realtime": 1, "first": 1},
}


@pytest.fixture(scope="module")
def limited(sim_cache: Path) -> Iterator[NvrSimulator]:
    cameras = (CameraConfig(1, "Kamera 1"), CameraConfig(2, "Kamera 2"))
    with running(small_config(sim_cache, cameras, faults=LIMITED)) as simulator:
        yield simulator


def _play_once(sim: NvrSimulator, channel: int, anchor: datetime, seconds: float) -> Reply:
    client = ReplayClient(sim.endpoints.rtsp_port, USER, PASSWORD)
    try:
        url = sim.endpoints.rtsp(f"/onvif/replay/Recording_{channel}")
        client.setup(url)
        span = f"clock={clock(anchor)}-{clock(anchor + timedelta(seconds=seconds))}"
        reply = client.request("PLAY", url, Range=span, Rate_Control="no")
        if reply.status == 200:
            assert client.units()[1]  # to the end of the range
        return reply
    finally:
        client.close()


def test_busy_for_the_first_plays_then_serving(limited: NvrSimulator, anchor: datetime) -> None:
    statuses = [_play_once(limited, 1, anchor, 4).status for _ in range(3)]

    assert statuses == [454, 454, 200]


def test_realtime_paces_a_replay_that_asked_for_no_rate_control(
    limited: NvrSimulator, anchor: datetime
) -> None:
    """A device that ignores `Rate-Control: no` (the `realtime` fault) takes the window's time."""
    started = time.monotonic()
    _play_once(limited, 2, anchor, 2)
    paced = time.monotonic() - started
    _play_once(limited, 2, anchor, 2)
    unpaced = time.monotonic() - started - paced

    assert paced >= 1.5
    assert unpaced < 1.0
