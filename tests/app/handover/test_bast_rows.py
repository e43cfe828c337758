"""The BAST's *Rincian Rekaman* rows (issue 20): a partial clip's row gives the window it
delivers, not the one asked for, and each remark is written once."""

from __future__ import annotations

from datetime import UTC, datetime

from app.handover._content import table_rows
from app.handover.document import ClipRow, Gap
from tests.app.handover.fixtures import bast_document, sha

ASKED = (datetime(2026, 12, 3, 5, 10, tzinfo=UTC), datetime(2026, 12, 3, 5, 11, 30, tzinfo=UTC))


def _partial() -> ClipRow:
    """The walkthrough's Kamera 4: asked 12:10:00-12:11:30 WIB, recorded until 12:10:59.96."""
    return ClipRow(
        start_at=ASKED[0], end_at=ASKED[1], camera_location="Kamera 4 - Bundaran Weru",
        storage_medium="Tautan unduhan", remarks="Barang bukti SKS-2026-00001/4",
        sha256=sha("partial"), size_bytes=164_895, delivered_start_at=ASKED[0],
        delivered_end_at=datetime(2026, 12, 3, 5, 10, 59, 960000, tzinfo=UTC),
        gaps=(Gap(start_at=datetime(2026, 12, 3, 5, 11, tzinfo=UTC), end_at=ASKED[1]),),
    )  # fmt: skip


def test_a_partial_clip_row_gives_the_delivered_window_and_each_remark_once() -> None:
    document = bast_document().model_copy(update={"rows": (_partial(),)})
    [row] = table_rows(document)
    assert row[2] == "12:10:00–12:10:59"  # the clip ends there; 12:11:30 was only asked for
    remarks = row[-1]
    assert remarks.count("terdapat jeda rekaman") == 1
    assert remarks == "Barang bukti SKS-2026-00001/4; terdapat jeda rekaman 12:11:00–12:11:30 WIB"


def test_a_clip_without_a_recorded_delivered_window_shows_the_window_asked_for() -> None:
    rows = table_rows(bast_document())
    assert [row[2] for row in rows] == ["10:00:00–10:15:00", "20:30:00–21:00:00",
                                       "07:00:00–07:10:00"]  # fmt: skip
