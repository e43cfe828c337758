"""The archive's spans: a search reaching far back walks only the segments retention keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from tests.nvr_sim.conftest import small_config


def test_a_search_a_year_back_walks_only_what_retention_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preservation check asks the NVR for everything since a year before the window: with
    ten-second segments that was three million steps, and the device's answer came after the
    client had given up."""
    motion = CameraConfig(2, "Kamera 2", schedule="motion")
    archive = Archive(small_config(tmp_path, (CameraConfig(1, "Kamera 1"), motion)))
    now = datetime.now(UTC)
    monkeypatch.setattr(archive, "now", lambda: now)  # no segment boundary passes meanwhile
    walked: list[datetime] = []
    scheduled = archive._scheduled  # noqa: SLF001 - counting the steps of the walk

    def counting(camera: CameraConfig, start: datetime) -> bool:
        walked.append(start)
        return scheduled(camera, start)

    monkeypatch.setattr(archive, "_scheduled", counting)
    year = archive.spans(motion, now - timedelta(days=366), now)
    kept = archive.spans(motion, archive.oldest(), archive.newest())

    segments = archive.config.retention / timedelta(seconds=archive.config.segment_seconds)
    assert len(walked) <= 2 * (segments + 1)  # both searches together
    assert year == kept
    assert year[0].start == archive.oldest()
    assert len(year) > 1  # the motion camera's gaps split it
