"""Exports end to end for each vendor style, from an NVR whose clock runs 7 s ahead.

The motion camera misses device time +30 s to +40 s after the anchor. Each export must: decode
completely, start at the key frame at or before the window and reach its end, carry the
simulator's access units byte for byte (raw hash), list the gap, and record the clock offset it
corrected (windows asked in device time, stored in true UTC).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.models import Role, User
from app.cameras.models import Nvr, NvrVendor
from app.db import unit_of_work
from app.demo import DemoWorld, NvrEndpoint, sample_request, seed
from app.exports import pipeline
from app.exports import service as export_service
from app.exports.models import Export, ExportState
from app.main import create_app
from app.requests.models import EvidenceRequest
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from custody import ledger
from nvr_adapters import RecordingNotFound
from nvr_sim import NvrSimulator
from nvr_sim.config import CameraConfig
from tests.app.factories import walk_runtime_to_export_step
from tests.nvr_adapters.conftest_vendors import (
    CLOCK_OFFSET,
    PASSWORD,
    USER,
    VENDORS,
    device_anchor,
    vendor_sim,
)
from tests.nvr_sim.conftest import running, sim_cache, small_config

__all__ = ["device_anchor", "sim_cache", "vendor_sim"]


@pytest.fixture
def exported(
    request: pytest.FixtureRequest, fresh_database_url: str, tmp_path: Path,
    vendor_sim: NvrSimulator, device_anchor: datetime,
) -> Iterator[tuple[Runtime, list[Export], datetime]]:  # fmt: skip
    runtime, world = _office(fresh_database_url, tmp_path, vendor_sim, NvrVendor(request.param))
    world.camera_ids = world.camera_ids[:2]  # 1 continuous, 2 motion-only
    true_anchor = device_anchor - CLOCK_OFFSET
    window = (true_anchor + timedelta(seconds=24), true_anchor + timedelta(seconds=44))
    for export_id in _exports_started(runtime, world, window)[1]:
        pipeline.run(runtime, export_id, "test")
    with unit_of_work(runtime.sessions) as session:
        exports = list(session.scalars(select(Export).order_by(Export.id)))
        session.expunge_all()
    yield runtime, exports, device_anchor
    runtime.close()
    set_current(None)


def _office(
    database_url: str, tmp_path: Path, sim: NvrSimulator, vendor: NvrVendor
) -> tuple[Runtime, DemoWorld]:
    """The demo office, its NVR registered as `vendor` on the simulator."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://",
        _env_file=None,
    )  # fmt: skip
    runtime = build_runtime(settings)
    ends = sim.endpoints
    world = seed(runtime, NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER,
                                      PASSWORD, vendor=vendor))  # fmt: skip
    return runtime, world


def _exports_started(
    runtime: Runtime, world: DemoWorld, window: tuple[datetime, datetime]
) -> tuple[int, list[int]]:
    """A request for the world's cameras over `window`, walked to the export step and its
    exports started by the assigned operator: the request and the exports."""
    request_id = sample_request(runtime, world, window)
    walk_runtime_to_export_step(runtime, request_id)
    with unit_of_work(runtime.sessions) as session:
        evidence = session.get(EvidenceRequest, request_id)
        assert evidence is not None
        operator = session.get(User, evidence.assigned_operator_id)
        assert operator is not None
        created = export_service.start_exports(
            session, runtime.sop, evidence, operator, runtime.clock.now()
        )
        return request_id, [e.id for e in created]


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("exported", VENDORS, indirect=True)
def test_each_vendor_exports_bit_exact_with_gaps_and_clock_on_record(
    exported: tuple[Runtime, list[Export], datetime], vendor_sim: NvrSimulator
) -> None:
    runtime, (continuous, motion), anchor = exported
    true_start = anchor - CLOCK_OFFSET + timedelta(seconds=24)
    true_end = true_start + timedelta(seconds=20)
    assert continuous.trimming is not None
    shift = timedelta(seconds=continuous.trimming["clock_shift_s"])  # as measured and applied
    start, end = true_start + shift, true_end + shift  # what was asked of the device

    assert (continuous.state, motion.state) == (ExportState.DONE, ExportState.PARTIAL)
    source = vendor_sim.archive.replay(vendor_sim.config.camera(1), start, end)
    units = [item.unit for item in source]
    assert continuous.raw_sha256 == hashlib.sha256(b"".join(u.annexb() for u in units)).hexdigest()
    assert continuous.frames == len(units)
    path = runtime.settings.data_dir / str(continuous.file_path)
    assert _decoded_frames(path) == continuous.frames
    assert continuous.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert continuous.first_frame_at is not None
    assert continuous.last_frame_at is not None
    assert continuous.first_frame_at <= true_start  # the key frame at or before it
    assert continuous.last_frame_at >= true_end - timedelta(seconds=1)
    assert continuous.clock is not None
    assert continuous.clock["applied"] is True
    assert abs(float(continuous.clock["seconds"]) - CLOCK_OFFSET.total_seconds()) <= 1.0
    gap_start = anchor + timedelta(seconds=30) - CLOCK_OFFSET  # true UTC
    assert motion.gaps is not None
    assert len(motion.gaps) == 1
    assert abs(datetime.fromisoformat(motion.gaps[0]["start"]) - gap_start) <= timedelta(seconds=1)
    assert continuous.gaps == []
    _check_method(runtime, continuous)


def _check_method(runtime: Runtime, export: Export) -> None:
    """Hikvision and Dahua NVRs send their native file (the master, kept and hashed, its units
    those of the working copy); an ONVIF device is played back, its Rate-Control answer kept."""
    with unit_of_work(runtime.sessions) as session:
        vendor = session.scalars(select(Nvr.vendor)).one()
    if vendor is NvrVendor.ONVIF:
        assert export.method == "playback"
        assert export.method_detail is not None
        assert export.method_detail["rate_control"] == "no"  # the simulator honours it
        assert export.master_path is None
        return
    assert export.method == "download"
    assert export.master_path is not None
    master = runtime.settings.data_dir / export.master_path
    assert export.master_sha256 == hashlib.sha256(master.read_bytes()).hexdigest()
    assert export.master_size == master.stat().st_size
    assert export.master_raw_sha256 == export.raw_sha256  # the working copy's frames are its
    assert master.read_bytes()[:4] == (b"IMKH" if export.master_format == "mpeg-ps" else b"DHAV")
    # What the search's `size=` / `Length` announced for the window, the progress's denominator:
    # the simulator estimates a file's size before it has made it, so only its scale is checked.
    assert export.expected_bytes is not None
    assert 0.25 < export.expected_bytes / export.master_size < 4, export.expected_bytes
    with unit_of_work(runtime.sessions) as session:
        events = [(e.action, json.loads(e.canonical)) for e in
                  ledger.read(session.connection(), export.request_id)
                  if e.action in ("export.master_written", "export.file_written")]  # fmt: skip
    [(first, master_event), (second, clip_event)] = [
        (a, e) for a, e in events if e["object"]["export"] == export.id
    ]
    assert (first, second) == ("export.master_written", "export.file_written")
    assert master_event["result"]["sha256"] == export.master_sha256
    assert clip_event["result"]["derived_from"] == export.master_sha256
    assert clip_event["object"]["method"]["method"] == "download"


@pytest.mark.parametrize("z_is_local", [True, False])
def test_an_nvrs_z_is_local_setting_reaches_the_hikvision_playback(
    z_is_local: bool, fresh_database_url: str, tmp_path: Path, vendor_sim: NvrSimulator,
    device_anchor: datetime,
) -> None:  # fmt: skip
    """Camera 3's firmware reads `…Z` playback times as WIB. With the NVR's setting on, its
    export is bit-exact; without it the same digits point seven hours back, past retention."""
    runtime, world = _office(fresh_database_url, tmp_path, vendor_sim, NvrVendor.HIKVISION)
    with unit_of_work(runtime.sessions) as session:
        for nvr in session.scalars(select(Nvr)):
            nvr.hikvision_z_is_local = z_is_local
    world.camera_ids = world.camera_ids[2:3]
    true_start = device_anchor - CLOCK_OFFSET + timedelta(seconds=11)
    window = (true_start, true_start + timedelta(seconds=4))
    request_id, [export_id] = _exports_started(runtime, world, window)
    try:
        if z_is_local:
            assert pipeline.run(runtime, export_id, "test") is ExportState.DONE
        else:
            with pytest.raises(RecordingNotFound):
                pipeline.run(runtime, export_id, "test")
        with unit_of_work(runtime.sessions) as session:
            export = session.get(Export, export_id)
            assert export is not None
            session.expunge(export)
            started = [json.loads(e.canonical)["object"]
                       for e in ledger.read(session.connection(), request_id)
                       if e.action == "export.started"]  # fmt: skip
        assert started[0]["nvr_settings"] == {"z_is_local": z_is_local}  # on record
        assert started[0]["source"] == "3"  # the channel asked for
    finally:
        runtime.close()
        set_current(None)

    if not z_is_local:
        assert (export.state, export.error_code) == (ExportState.FAILED, "RecordingNotFound")
        return
    assert export.trimming is not None
    start = true_start + timedelta(seconds=export.trimming["clock_shift_s"])
    source = vendor_sim.archive.replay(
        vendor_sim.config.camera(3), start, start + timedelta(seconds=4)
    )
    expected = b"".join(item.unit.annexb() for item in source)
    assert export.raw_sha256 == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize("vendor", [NvrVendor.HIKVISION, NvrVendor.DAHUA])
def test_an_nvr_without_downloads_is_played_back_on_record(
    vendor: NvrVendor, fresh_database_url: str, tmp_path: Path, sim_cache: Path,
    device_anchor: datetime,
) -> None:  # fmt: skip
    """A device that answers the vendor download with 404 (firmware without it, or the
    `onvif-generic` profile) is played back over RTSP instead: bit-exact, and the refusal is on
    record next to the method."""
    config = small_config(sim_cache, (CameraConfig(1, "Kamera 1"),), username=USER,
                          password=PASSWORD, downloads=frozenset())  # fmt: skip
    with running(config) as sim:
        runtime, world = _office(fresh_database_url, tmp_path, sim, vendor)
        world.camera_ids = world.camera_ids[:1]
        start = device_anchor + timedelta(seconds=3)
        window = (start, start + timedelta(seconds=6))
        request_id, [export_id] = _exports_started(runtime, world, window)
        try:
            assert pipeline.run(runtime, export_id, "test") is ExportState.DONE
            with unit_of_work(runtime.sessions) as session:
                export = session.get(Export, export_id)
                assert export is not None
                session.expunge(export)
                written = [json.loads(e.canonical) for e in
                           ledger.read(session.connection(), request_id)
                           if e.action == "export.file_written"]  # fmt: skip
        finally:
            runtime.close()
            set_current(None)
        source = sim.archive.replay(config.camera(1), start, start + timedelta(seconds=6))
    expected = b"".join(item.unit.annexb() for item in source)
    assert export.raw_sha256 == hashlib.sha256(expected).hexdigest()
    assert (export.method, export.master_path) == ("playback", None)
    assert export.method_detail is not None
    assert "404" in export.method_detail["download_refused"]
    assert (
        written[0]["object"]["method"]["download_refused"]
        == export.method_detail["download_refused"]
    )
    assert written[0]["result"]["derived_from"] is None


def test_the_request_page_names_how_the_footage_came(
    fresh_database_url: str, tmp_path: Path, vendor_sim: NvrSimulator, device_anchor: datetime
) -> None:
    """The operator sees that the clip was downloaded from the NVR, and the master's hash."""
    runtime, world = _office(fresh_database_url, tmp_path, vendor_sim, NvrVendor.HIKVISION)
    world.camera_ids = world.camera_ids[:1]
    start = device_anchor - CLOCK_OFFSET + timedelta(seconds=3)
    window = (start, start + timedelta(seconds=4))
    request_id, [export_id] = _exports_started(runtime, world, window)
    try:
        assert pipeline.run(runtime, export_id, "test") is ExportState.DONE
        with unit_of_work(runtime.sessions) as session:
            export = session.get(Export, export_id)
            assert export is not None
            master_sha256 = export.master_sha256
        username, password = world.passwords[Role.OPERATOR]
        with TestClient(create_app(runtime)) as client:
            client.post("/masuk", data={"username": username, "password": password})
            page = client.get(f"/permintaan/{request_id}")
    finally:
        runtime.close()
        set_current(None)
    assert page.status_code == 200
    assert "Unduh langsung dari NVR" in page.text
    assert "master mpeg-ps" in page.text
    assert master_sha256 is not None
    assert master_sha256 in page.text
