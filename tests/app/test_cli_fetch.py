"""`saksi fetch`: the operator's diagnostic fetches a window exactly as an export does."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nvr_sim import NvrSimulator
from nvr_sim.config import CameraConfig
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, running, sim_cache, small_config

__all__ = ["anchor", "sim_cache"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim(sim_cache: Path) -> Iterator[NvrSimulator]:
    cameras = (CameraConfig(1, "Kamera 1"), CameraConfig(2, "Kamera 2", schedule="motion"))
    with running(small_config(sim_cache, cameras)) as simulator:
        yield simulator


def saksi_fetch(sim: NvrSimulator, vendor: str, channel: str, window: tuple[datetime, datetime],
                out: Path, *extra: str) -> dict[str, Any]:  # fmt: skip
    """Run `saksi fetch` in its own process and return the JSON it prints."""
    ends = sim.endpoints
    argv = [
        sys.executable, "-m", "app.cli", "fetch", "--vendor", vendor, "--host", ends.host,
        "--http-port", str(ends.http_port), "--rtsp-port", str(ends.rtsp_port),
        "--channel", channel, "--start", window[0].isoformat(), "--end", window[1].isoformat(),
        "-o", str(out), "--username", USER, "--password-stdin", "--timezone", "Asia/Jakarta",
        *extra,
    ]  # fmt: skip
    done = subprocess.run(argv, input=PASSWORD + "\n", capture_output=True, text=True, check=False,
                          cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def source_sha256(sim: NvrSimulator, channel: int, start: datetime, end: datetime) -> str:
    units = sim.archive.replay(sim.config.camera(channel), start, end)
    return hashlib.sha256(b"".join(item.unit.annexb() for item in units)).hexdigest()


@pytest.mark.parametrize(("vendor", "fmt"), [("hikvision", "mpeg-ps"), ("dahua", "dav")])
def test_fetch_downloads_the_master_and_derives_the_working_copy(
    vendor: str, fmt: str, sim: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    start, end = anchor + timedelta(seconds=3), anchor + timedelta(seconds=13)
    result = saksi_fetch(sim, vendor, "1", (start, end), tmp_path)

    assert result["method"] == "download"
    master, clip = result["master"], result["clip"]
    assert master["format"] == fmt
    assert master["sha256"] == hashlib.sha256(Path(master["file"]).read_bytes()).hexdigest()
    assert master["bytes"] == Path(master["file"]).stat().st_size
    assert clip["sha256"] == hashlib.sha256(Path(clip["file"]).read_bytes()).hexdigest()
    expected = source_sha256(sim, 1, start, end)
    assert result["raw_sha256"] == master["raw_sha256"] == expected  # bit-exact, both
    assert clip["frames"] == 5 * 11  # from the key frame at +2 s to the last before +13 s
    assert datetime.fromisoformat(clip["first_frame_utc"]) == anchor + timedelta(seconds=2)
    assert result["gaps"] == []
    assert result["throughput_mbps"] > 0
    assert abs(result["clock_offset_s"]) < 1.5


def test_fetch_plays_back_when_asked_and_names_the_gaps(
    sim: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    """The motion camera misses +30 s to +40 s: the playback's clip lists that gap in UTC."""
    start, end = anchor + timedelta(seconds=24), anchor + timedelta(seconds=44)
    result = saksi_fetch(sim, "hikvision", "2", (start, end), tmp_path, "--method", "playback")

    assert (result["method"], result["master"]) == ("playback", None)
    assert result["raw_sha256"] == source_sha256(sim, 2, start, end)
    [gap] = result["gaps"]
    assert abs(datetime.fromisoformat(gap["start"]) - (anchor + timedelta(seconds=30))) < (
        timedelta(seconds=1)
    )


def test_fetch_search_only_prints_coverage_and_the_clock(
    sim: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = (anchor + timedelta(seconds=20), anchor + timedelta(seconds=50))
    result = saksi_fetch(sim, "dahua", "2", window, tmp_path, "--search-only")

    assert "clip" not in result
    assert isinstance(result["clock_offset_s"], float)
    gaps = result["coverage"]["gaps"]
    assert [datetime.fromisoformat(g["start"]) for g in gaps] == [anchor + timedelta(seconds=30)]
    assert list(tmp_path.iterdir()) == []  # nothing fetched
