"""`saksi fetch`: the operator's diagnostic of one camera's window, fetched exactly as an export
fetches it (probe, search, vendor download with its master or playback), printed as one JSON
object. Nothing is recorded: it touches no database, only the folder it is given."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from app.nvr.device import DeviceFacts, DeviceTarget, open_target, probe_and_search
from app.nvr.fetching import (
    Fetched,
    Method,
    Outputs,
    Progress,
    alongside_master_rehash,
    fetch_window,
)
from nvr_adapters import CameraRef, TimeWindow
from nvr_adapters.verify import ClipCheck, check_clip


def fetch(args: argparse.Namespace) -> int:
    """Print one JSON object: the method, the master, the clip, gaps, clock and throughput."""
    target = _target(args)
    args.output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.search_only:
        result = asyncio.run(_search_only(target))
    else:
        result = _fetched(asyncio.run(_fetch(target, args)), target)
    result["elapsed_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(result), flush=True)
    return 0


def _target(args: argparse.Namespace) -> DeviceTarget:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    zone = args.timezone or _office_zone()
    window = TimeWindow(_aware(args.start, zone), _aware(args.end, zone))
    options: dict[str, str | bool] = {"z_is_local": True} if args.hikvision_z_is_local else {}
    return DeviceTarget(
        vendor=args.vendor, host=args.host, http_port=args.http_port, rtsp_port=args.rtsp_port,
        username=args.username, password=password, timezone=zone,
        camera=CameraRef("cli", str(args.channel), f"channel {args.channel}"), window=window,
        options=options,
    )  # fmt: skip


def _office_zone() -> str:
    from app.settings import Settings  # noqa: PLC0415 - only when no zone was given

    return Settings().timezone


def _aware(moment: datetime, zone: str) -> datetime:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


def _ignore(_state: str, _facts: DeviceFacts) -> None:
    """Stages are recorded by exports; the diagnostic only prints its result."""


async def _search_only(target: DeviceTarget) -> dict[str, Any]:
    adapter = open_target(target)
    try:
        facts, _window, _coverage = await probe_and_search(adapter, target, _ignore)
    finally:
        await adapter.aclose()
    return {
        "device": facts.device, "clock_offset_s": float(facts.clock["seconds"]),
        "clock": facts.clock, "coverage": facts.coverage,
    }  # fmt: skip


Outcome = tuple[Fetched, ClipCheck, str | None]


async def _fetch(target: DeviceTarget, args: argparse.Namespace) -> Outcome:
    """Fetch, then check the clip while the master's units are hashed again (two cores)."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    stem = f"ch{args.channel}-{target.window.start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    window_s = (target.window.end - target.window.start).total_seconds()
    method: Method = args.method
    fetched = await fetch_window(target, Outputs(args.output, stem), _ignore,
                                 Progress(window_s), method)  # fmt: skip
    check, master_raw = await alongside_master_rehash(
        fetched, ZoneInfo(target.timezone), functools.partial(check_clip, fetched.clip.path,
                                                              fetched.window),
    )  # fmt: skip
    return fetched, check, master_raw


def _fetched(outcome: Outcome, target: DeviceTarget) -> dict[str, Any]:
    fetched, check, master_raw = outcome
    clip, master, shift = fetched.clip, fetched.master, fetched.facts.shift
    return {
        "method": fetched.method,
        "method_detail": fetched.detail,
        "master": None if master is None else {
            "file": str(master.path), "format": master.format, "bytes": master.size,
            "sha256": master.sha256, "raw_sha256": master_raw,
        },
        "clip": {
            "file": str(clip.path), "bytes": clip.size, "sha256": clip.sha256,
            "frames": clip.frames,
            "first_frame_utc": (clip.first_frame_utc - shift).isoformat(),
            "last_frame_utc": (clip.last_frame_utc - shift).isoformat(),
        },
        "raw_sha256": clip.raw_sha256,
        "gaps": [{"start": (g.start - shift).isoformat(), "end": (g.end - shift).isoformat()}
                 for g in check.gaps],
        "clock_offset_s": float(fetched.facts.clock["seconds"]),
        "transfer_s": round(fetched.elapsed_s, 3),
        "throughput_mbps": _mbps(fetched.received_bytes, fetched.elapsed_s),
    }  # fmt: skip


def _mbps(size: int, seconds: float) -> float | None:
    return round(size * 8 / seconds / 1e6, 2) if seconds > 0 else None
