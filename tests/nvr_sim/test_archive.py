"""The archive's spans: a search reaching far back walks only the segments retention keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig, segment_start
from tests.nvr_sim.conftest import small_config


def skipped(archive: Archive, camera: CameraConfig, now: datetime) -> bool:
    """Whether the oldest segment kept at `now` is one the camera's schedule skipped."""
    oldest = segment_start(now - archive.config.retention, archive.config.segment_seconds)
    return not archive._scheduled(camera, oldest)  # noqa: SLF001


@pytest.mark.parametrize("gap_first", [False, True])
def test_a_search_a_year_back_walks_only_what_retention_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gap_first: bool
) -> None:
    """The preservation check asks the NVR for everything since a year before the window: with
    ten-second segments that was three million steps, and the device's answer came after the
    client had given up."""
    motion = CameraConfig(2, "Kamera 2", schedule="motion")
    archive = Archive(small_config(tmp_path, (CameraConfig(1, "Kamera 1"), motion)))
    config = archive.config
    step = timedelta(seconds=config.segment_seconds)
    now = segment_start(datetime.now(UTC), config.segment_seconds) + step / 2
    while skipped(archive, motion, now) != gap_first:
        now += step
    monkeypatch.setattr(archive, "now", lambda: now)  # no segment boundary passes meanwhile
    walked: list[datetime] = []
    scheduled = archive._scheduled  # noqa: SLF001 - counting the steps of the walk

    def counting(camera: CameraConfig, start: datetime) -> bool:
        walked.append(start)
        return scheduled(camera, start)

    monkeypatch.setattr(archive, "_scheduled", counting)
    year = archive.spans(motion, now - timedelta(days=366), now)
    kept = archive.spans(motion, archive.oldest(), archive.newest())

    assert len(walked) <= 2 * (config.retention / step + 1)  # both searches together
    assert year == kept
    assert year[0].start == archive.oldest() + (step if gap_first else timedelta(0))
    assert len(year) > 1  # the motion camera's gaps split it
