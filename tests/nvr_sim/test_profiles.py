"""Device profiles: real-time vendor playback, `Rate-Control: no` only where a device honours it,
session limits, the identity and dialect each device has, and the command line that picks one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from nvr_sim import NvrSimulator, default_cameras
from nvr_sim.cli import config_from, parser
from nvr_sim.profiles import CLI_DEFAULT, PROFILES, apply_profile
from tests.nvr_sim.conftest import PASSWORD, USER, device_config, running, small_config
from tests.nvr_sim.replay_client import ReplayClient, Reply, clock

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture(scope="module")
def hikvision(sim_cache: Path) -> Iterator[NvrSimulator]:
    with running(device_config(sim_cache, default_cameras(2), "hikvision-ds7608")) as sim:
        yield sim


@pytest.fixture(scope="module")
def dahua(sim_cache: Path) -> Iterator[NvrSimulator]:
    with running(device_config(sim_cache, default_cameras(2), "dahua-nvr4108")) as sim:
        yield sim


@pytest.fixture(scope="module")
def generic(sim_cache: Path) -> Iterator[NvrSimulator]:
    with running(device_config(sim_cache, default_cameras(1), "onvif-generic")) as sim:
        yield sim


def hik_url(sim: NvrSimulator, start: datetime, end: datetime) -> str:
    query = f"starttime={start:%Y%m%dT%H%M%S}Z&endtime={end:%Y%m%dT%H%M%S}Z"
    return sim.endpoints.rtsp(f"/Streaming/tracks/101?{query}")


def dahua_url(sim: NvrSimulator, start: datetime, end: datetime) -> str:
    begin, finish = start.astimezone(WIB), end.astimezone(WIB)
    query = f"channel=1&starttime={begin:%Y_%m_%d_%H_%M_%S}&endtime={finish:%Y_%m_%d_%H_%M_%S}"
    return sim.endpoints.rtsp(f"/cam/playback?{query}")


def timed_play(sim: NvrSimulator, url: str, **headers: str) -> tuple[float, int, Reply]:
    """Play `url` to its RTCP BYE: seconds from PLAY to the end, units received, the reply."""
    client = ReplayClient(sim.endpoints.rtsp_port, USER, PASSWORD)
    try:
        client.setup(url)
        started = time.perf_counter()
        reply = client.request("PLAY", url, **headers)
        units, ended = client.units()
        assert ended
        return time.perf_counter() - started, len(units), reply
    finally:
        client.close()


def warm(sim: NvrSimulator, start: datetime, end: datetime) -> None:
    """Encode the footage first, so that a timing measures only the replay."""
    list(sim.archive.replay(sim.config.camera(1), start, end))


def test_vendor_playback_is_paced_at_real_time(
    hikvision: NvrSimulator, dahua: NvrSimulator, anchor: datetime
) -> None:
    four, two = anchor + timedelta(seconds=4), anchor + timedelta(seconds=2)
    warm(hikvision, anchor, four)
    hik_seconds, hik_units, _ = timed_play(hikvision, hik_url(hikvision, anchor, four))
    dahua_seconds, dahua_units, _ = timed_play(dahua, dahua_url(dahua, anchor, two))

    assert (hik_units, dahua_units) == (20, 10)
    assert hik_seconds >= 3.5
    assert dahua_seconds >= 1.6


def test_fast_vendor_playback_keeps_the_old_speed(sim_cache: Path, anchor: datetime) -> None:
    """`--fast-vendor-playback` (config `realtime_vendor=False`), and the default config."""
    config = device_config(sim_cache, default_cameras(1), "hikvision-ds7608", realtime_vendor=False)
    end = anchor + timedelta(seconds=4)
    for sim_config in (config, small_config(sim_cache, default_cameras(1))):
        with running(sim_config) as sim:
            warm(sim, anchor, end)
            seconds, units, _ = timed_play(sim, hik_url(sim, anchor, end))
        assert units == 20
        assert seconds < 0.5


def test_rate_control_no_is_honoured_only_where_the_device_does(
    hikvision: NvrSimulator, generic: NvrSimulator, anchor: datetime
) -> None:
    span = f"clock={clock(anchor)}-{clock(anchor + timedelta(seconds=2))}"
    results = []
    for sim in (generic, hikvision):
        warm(sim, anchor, anchor + timedelta(seconds=2))
        url = sim.endpoints.rtsp("/onvif/replay/Recording_1")
        results.append(timed_play(sim, url, Range=span, Rate_Control="no", Require="onvif-replay"))
    (fast, _, fast_reply), (paced, _, paced_reply) = results

    assert fast < 0.5
    assert fast_reply.headers["rate-control"] == "no"
    assert paced >= 1.6
    assert paced_reply.headers["rate-control"] == "yes"


def test_a_playback_beyond_the_session_limit_is_453(sim_cache: Path, anchor: datetime) -> None:
    config = device_config(sim_cache, default_cameras(1), "hikvision-ds7608", playback_sessions=1)
    with running(config) as sim:
        url = hik_url(sim, anchor, anchor + timedelta(seconds=4))
        first, second = (ReplayClient(sim.endpoints.rtsp_port, USER, PASSWORD) for _ in "ab")
        try:
            assert first.request("DESCRIBE", url).status == 200
            refused = second.request("DESCRIBE", url)
            first.request("TEARDOWN", url)
            admitted = second.request("DESCRIBE", url)
        finally:
            first.close()
            second.close()

    assert refused.status == 453  # Not Enough Bandwidth, as a Hikvision NVR answers
    assert admitted.status == 200


def test_each_profile_reports_its_device(
    hikvision: NvrSimulator, dahua: NvrSimulator, anchor: datetime
) -> None:
    auth = httpx.DigestAuth(USER, PASSWORD)
    with httpx.Client(auth=auth) as http:
        info = http.get(hikvision.endpoints.http("/ISAPI/System/deviceInfo")).text
        vendor = http.get(dahua.endpoints.http("/cgi-bin/magicBox.cgi"),
                          params={"action": "getVendor"}).text  # fmt: skip
        found = dahua_find(http, dahua, anchor)

    assert "<model>DS-7608NI-K2</model>" in info
    assert "<firmwareVersion>V4.40.015</firmwareVersion>" in info
    assert vendor.strip() == "vendor=Dahua"
    # Asked for channel 1, a Dahua NVR numbers the files' channel from 0.
    assert "items[0].Channel=0" in found
    assert "items[0].Channel=1" not in found


def dahua_find(http: httpx.Client, sim: NvrSimulator, start: datetime) -> str:
    cgi = sim.endpoints.http("/cgi-bin/mediaFileFind.cgi")
    object_id = http.get(cgi, params={"action": "factory.create"}).text.strip().split("=")[1]
    begin, finish = start.astimezone(WIB), (start + timedelta(seconds=20)).astimezone(WIB)
    condition = {"action": "findFile", "object": object_id, "condition.Channel": "1",
                 "condition.StartTime": f"{begin:%Y-%m-%d %H:%M:%S}",
                 "condition.EndTime": f"{finish:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
    http.get(cgi, params=condition)
    found = http.get(cgi, params={"action": "findNextFile", "object": object_id, "count": 10})
    http.get(cgi, params={"action": "close", "object": object_id})
    return found.text


def test_the_command_line_runs_a_real_device_by_default(tmp_path: Path) -> None:
    config = config_from(parser().parse_args(["--cache-dir", str(tmp_path)]))

    assert config.profile == CLI_DEFAULT == "hikvision-ds7608"
    assert config.realtime_vendor
    assert not config.onvif_rate_control
    assert config.playback_sessions == 8
    assert config.downloads == frozenset({"isapi"})
    assert config.bitrate_kbps == 4096
    assert config.model == "DS-7608NI-K2"


def test_the_command_line_flags_override_the_profile(tmp_path: Path) -> None:
    args = ["--profile", "dahua-nvr4108", "--fast-vendor-playback", "--link-mbps", "20",
            "--bitrate-kbps", "4000", "--cache-dir", str(tmp_path)]  # fmt: skip
    config = config_from(parser().parse_args(args))
    unlimited = config_from(parser().parse_args(["--link-mbps", "0", "--bitrate-kbps", "0"]))

    assert (config.profile, config.make) == ("dahua-nvr4108", "Dahua")
    assert config.dahua_item_channel_base == 0
    assert not config.realtime_vendor
    assert (config.link_mbps, config.bitrate_kbps) == (20.0, 4000)
    assert (unlimited.link_mbps, unlimited.bitrate_kbps) == (None, None)
    with pytest.raises(SystemExit):
        parser().parse_args(["--profile", "axis"])
    with pytest.raises(SystemExit):
        parser().parse_args(["--realtime"])


def test_a_config_file_may_name_the_profile(tmp_path: Path) -> None:
    settings = tmp_path / "sim.json"
    settings.write_text(json.dumps({"profile": "onvif-generic", "downloads": ["loadfile"]}))
    config = config_from(parser().parse_args(["--config", str(settings)]))

    assert config.profile == "onvif-generic"
    assert config.onvif_rate_control
    assert config.downloads == frozenset({"loadfile"})


def test_programs_keep_the_fast_simulator_and_may_still_override(sim_cache: Path) -> None:
    config = small_config(sim_cache, default_cameras(1))

    assert config.profile == "simulator"
    assert not config.realtime_vendor
    assert config.playback_sessions is None
    assert NvrSimulator(config, realtime_vendor=True).config.realtime_vendor
    assert set(PROFILES) == {"simulator", "hikvision-ds7608", "dahua-nvr4108", "onvif-generic"}
    with pytest.raises(ValueError, match="unknown profile"):
        apply_profile(config, "axis")
