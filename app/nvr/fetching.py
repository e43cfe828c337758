"""Fetch a window the fastest faithful way the device offers, as an export and `saksi fetch` do.

Where the vendor offers a download (Hikvision ISAPI, Dahua loadfile) the device's native file
comes at link speed: it is kept unaltered as the **master** (hashed while it is written) and
the MP4 working copy is derived from it by stream copy, read with FFmpeg's own demuxer (`mpegps`,
`dhav`). Elsewhere, or when the device refuses the download, the window is played back over
RTSP (ONVIF replay asks `Rate-Control: no`; vendor playback runs at real time on real devices).
Which path was taken, and why, goes on record. A failed fetch leaves its partial files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from app.nvr.device import DeviceFacts, DeviceTarget, open_target, probe_and_search
from nvr_adapters import AccessUnit, ClipFacts, ClipWriter, NvrAdapter, TimeWindow
from nvr_adapters.device_calls import DeviceCalls
from nvr_adapters.download import Downloader, DownloadRefused
from nvr_adapters.native import MasterFacts, MasterWriter, NativeFormat, read_units

Method = Literal["auto", "download", "playback"]
METHODS: tuple[Method, ...] = ("auto", "download", "playback")
SUFFIXES: dict[str, str] = {"mpeg-ps": ".ps", "dav": ".dav"}
C = TypeVar("C")


@dataclass(frozen=True)
class Outputs:
    """Where one attempt's files go: `<stem>.mp4`, and the master `<stem>.ps|.dav`."""

    folder: Path
    stem: str

    @property
    def clip(self) -> Path:
        return self.folder / f"{self.stem}.mp4"

    def master(self, fmt: NativeFormat) -> Path:
        return self.folder / f"{self.stem}{SUFFIXES[fmt]}"


@dataclass
class Progress:
    """How far a fetch got: written by the fetch, read by whoever shows it (the heartbeat)."""

    window_s: float
    expected_bytes: int | None = None
    bytes: int = 0
    media_s: float = 0.0

    @property
    def percent(self) -> float:
        """Bytes against the size the search expects, else media time against the window."""
        if self.expected_bytes:
            return min(99.0, 100.0 * self.bytes / self.expected_bytes)
        return min(99.0, 100.0 * self.media_s / self.window_s) if self.window_s > 0 else 0.0


@dataclass
class Fetched:
    """What a fetch brought: the device's facts, the method, the working copy and the master."""

    facts: DeviceFacts
    window: TimeWindow  # on the device's clock, as asked
    method: str
    detail: dict[str, Any]
    clip: ClipFacts
    master: MasterFacts | None = None
    elapsed_s: float = 0.0  # the transfer's
    received_bytes: int = 0


@dataclass
class _Run:
    target: DeviceTarget
    outputs: Outputs
    progress: Progress
    method: Method
    detail: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0


async def fetch_window(
    target: DeviceTarget, outputs: Outputs, on_state: Callable[[str, DeviceFacts], None],
    progress: Progress, method: Method = "auto",
) -> Fetched:  # fmt: skip
    """Probe, search, then download (master + working copy) or play back; report each stage."""
    adapter = open_target(target)
    run = _Run(target, outputs, progress, method)
    try:
        facts, window, coverage = await probe_and_search(adapter, target, on_state)
        if "mac" in facts.device:  # the NVR's own MAC address, for each clip's record
            run.detail["device_mac"] = {"address": facts.device["mac"],
                                        "read_with": facts.device["mac_method"]}  # fmt: skip
        progress.expected_bytes = coverage.recorded_bytes
        if coverage.recorded_bytes:
            run.detail["expected_bytes"] = coverage.recorded_bytes
        on_state("fetching", facts)
        if method != "playback" and isinstance(adapter, Downloader):
            try:
                return await _download(adapter, run, facts, window)
            except DownloadRefused as exc:
                if method == "download":
                    raise
                run.detail["download_refused"] = str(exc)
        elif method == "download":
            raise DownloadRefused(f"a {target.vendor} NVR offers no download of recordings")
        return await _playback(adapter, run, facts, window)
    finally:
        facts_notes(adapter, run.detail)
        await adapter.aclose()


def facts_notes(adapter: NvrAdapter, detail: dict[str, Any]) -> None:
    """Put what the adapter noticed of the device's dialect on record (e.g. a rewritten URI),
    and every call it sent the device with those among them that could change a setting
    (`nvr_adapters.device_calls`: the checklists' "settings changed or restored")."""
    notes = list(getattr(adapter, "notes", ()))
    if notes:
        detail["notes"] = notes
    calls = getattr(adapter, "calls", None)
    if isinstance(calls, DeviceCalls):
        detail["device_operations"] = calls.calls
        detail["device_settings_changed"] = calls.changing()


async def _download(
    adapter: Downloader, run: _Run, facts: DeviceFacts, window: TimeWindow
) -> Fetched:
    fmt = adapter.download_format
    master = MasterWriter(run.outputs.master(fmt), fmt)

    def sink(chunk: bytes) -> None:
        master.write(chunk)
        run.progress.bytes += len(chunk)

    run.started = time.perf_counter()  # the transfer, without the probe and the search
    try:
        await adapter.download(run.target.camera, window, sink)
    finally:
        master_facts = master.close()  # a failed download keeps what arrived, hashed
    elapsed = time.perf_counter() - run.started
    zone = ZoneInfo(run.target.timezone)
    clip = await asyncio.to_thread(
        derive_working_copy, master_facts, zone, window, run.outputs.clip
    )
    run.detail.update(format=fmt, received_bytes=master_facts.size)
    return Fetched(facts, window, "download", run.detail, clip, master_facts,
                   elapsed, master_facts.size)  # fmt: skip


async def _playback(
    adapter: NvrAdapter, run: _Run, facts: DeviceFacts, window: TimeWindow
) -> Fetched:
    writer = ClipWriter(run.outputs.clip)
    sink = _CountingSink(writer, run.progress, window.start)
    run.started = time.perf_counter()
    try:
        await adapter.fetch(run.target.camera, window, sink)
        clip = writer.close()
    except BaseException:
        keep_partial(writer)
        raise
    elapsed = time.perf_counter() - run.started
    stats = getattr(adapter, "last_fetch", None)
    if stats is not None and getattr(stats, "rate_control", None) is not None:
        run.detail["rate_control"] = stats.rate_control  # the device's answer to `no`
    media_s = (clip.last_frame_utc - clip.first_frame_utc).total_seconds()
    # As text: custody events carry no floats.
    run.detail["speed_x"] = f"{media_s / elapsed:.2f}" if elapsed > 0 else None
    return Fetched(facts, window, "playback", run.detail, clip, None, elapsed, clip.size)


class _CountingSink:
    """Passes units to the writer and counts how much of the window has arrived."""

    def __init__(self, writer: ClipWriter, progress: Progress, origin: datetime) -> None:
        self._writer, self._progress, self._origin = writer, progress, origin
        self.start = writer.start

    def write(self, unit: AccessUnit) -> None:
        self._writer.write(unit)
        self._progress.media_s = max(0.0, (unit.time - self._origin).total_seconds())
        self._progress.bytes += sum(len(nal) + 4 for nal in unit.nals)


def keep_partial(writer: ClipWriter) -> None:
    """Finish what was written of a failed attempt's file, which stays on disk."""
    with contextlib.suppress(Exception):  # nothing written, or already closed
        writer.close()


def derive_working_copy(
    master: MasterFacts, zone: ZoneInfo, window: TimeWindow, path: Path
) -> ClipFacts:
    """Stream-copy the window's units of the master into an MP4 at `path` (hashed as written)."""
    info, units = read_units(master.path, master.format, zone=zone, anchor=window.start)
    writer = ClipWriter(path)
    writer.start(info)
    try:
        for unit in trimmed(units, window):
            writer.write(unit)
        return writer.close()
    except BaseException:
        keep_partial(writer)
        raise


def trimmed(units: Iterable[AccessUnit], window: TimeWindow) -> Iterator[AccessUnit]:
    """The units a clip of the window holds: from the key frame at or before its start (or the
    first key frame after, when the recording starts late) up to the last before its end."""
    held: list[AccessUnit] = []
    started = False
    for unit in units:
        if unit.time >= window.end:
            return
        if started:
            yield unit
            continue
        if unit.key and (unit.time <= window.start or not held):
            held = []  # a later clean point at or before the start, or the first one after it
        if unit.key or held:
            held.append(unit)
        if held and unit.time >= window.start:
            started = True
            yield from held


def units_sha256(master: MasterFacts, zone: ZoneInfo, first: datetime, last: datetime) -> str:
    """SHA-256 of the master's access units from `first` to `last` (Annex-B, 4-byte start
    codes, as the writer's raw hash), read again from the file on disk."""
    digest = hashlib.sha256()
    _info, units = read_units(master.path, master.format, zone=zone, anchor=first)
    for unit in units:
        if unit.time > last:
            break
        if unit.time >= first:
            digest.update(unit.annexb())
    return digest.hexdigest()


async def alongside_master_rehash(
    fetched: Fetched, device_zone: ZoneInfo, check: Callable[[], C]
) -> tuple[C, str | None]:
    """Run `check` (the working copy's decode) while the master's units are hashed again:
    two reads of two files whose work is in C that releases the GIL (FFmpeg's decoder and
    demuxer, SHA-256), so on two cores the rehash costs no time of its own. The rehash is None
    without a master."""
    master = fetched.master
    if master is None:
        return await asyncio.to_thread(check), None
    first, last = fetched.clip.first_frame_utc, fetched.clip.last_frame_utc
    return await asyncio.gather(
        asyncio.to_thread(check),
        asyncio.to_thread(units_sha256, master, device_zone, first, last),
    )


__all__ = [
    "METHODS",
    "alongside_master_rehash",
    "Fetched",
    "Method",
    "Outputs",
    "Progress",
    "derive_working_copy",
    "fetch_window",
    "keep_partial",
    "trimmed",
    "units_sha256",
]
