"""`python -m nvr_sim` / `saksi nvr-sim`: run the simulated NVR until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from nvr_sim.config import CameraConfig, SimConfig, default_cameras
from nvr_sim.profiles import CLI_DEFAULT, PROFILES, apply_profile
from nvr_sim.simulator import NvrSimulator


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nvr-sim", description="A simulated ONVIF/RTSP NVR.")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--clock-offset-seconds", type=float, default=0.0)
    parser.add_argument("--config", type=Path, help="JSON: cameras, faults, any SimConfig field")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("NVR_SIM_PASSWORD", "saksi-sim"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--retention-hours", type=float, default=24)
    parser.add_argument("--cache-dir", type=Path, default=Path("saksi-data/nvr-sim-cache"))
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=CLI_DEFAULT,
        help=f"the device to behave like (default {CLI_DEFAULT}; docs/nvr-sim.md)",
    )
    parser.add_argument(
        "--fast-vendor-playback",
        action="store_true",
        help="send vendor RTSP playback as fast as the link takes (tests, demo)",
    )
    parser.add_argument(
        "--link-mbps",
        type=float,
        help="cap the device's link, shared by all connections (0: unlimited)",
    )
    parser.add_argument(
        "--bitrate-kbps",
        type=int,
        help="pad footage to this bitrate with filler data (0: as encoded)",
    )
    return parser


def config_from(args: argparse.Namespace) -> SimConfig:
    """The profile's device, then the config file's fields, then the flags that override."""
    config = SimConfig(
        cameras=default_cameras(args.cameras), cache_dir=args.cache_dir, width=args.width,
        height=args.height, fps=args.fps, retention=timedelta(hours=args.retention_hours),
        username=args.username, password=args.password,
        clock_offset=timedelta(seconds=args.clock_offset_seconds),
    )  # fmt: skip
    config = apply_profile(config, args.profile)
    config = apply_file(config, args.config) if args.config else config
    changes: dict[str, Any] = {}
    if args.fast_vendor_playback:
        changes["realtime_vendor"] = False
    if args.link_mbps is not None:
        changes["link_mbps"] = args.link_mbps or None
    if args.bitrate_kbps is not None:
        changes["bitrate_kbps"] = args.bitrate_kbps or None
    return dataclasses.replace(config, **changes)


def apply_file(config: SimConfig, path: Path) -> SimConfig:
    """Override fields from a JSON file; `cameras` is a list of CameraConfig field objects."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "profile" in data:
        config = apply_profile(config, data.pop("profile"))
    changes: dict[str, Any] = {}
    if "downloads" in data:
        changes["downloads"] = frozenset(data.pop("downloads"))
    if "cameras" in data:
        changes["cameras"] = tuple(CameraConfig(**camera) for camera in data.pop("cameras"))
    if "faults" in data:
        changes["faults"] = {int(k): v for k, v in data.pop("faults").items()}
    for name in ("retention", "clock_offset"):
        if name in data:
            changes[name] = timedelta(seconds=data.pop(name))
    return dataclasses.replace(config, **changes, **data)


def describe(config: SimConfig) -> str:
    """One line on how the simulated device behaves."""
    pacing = "real time" if config.realtime_vendor else "fast"
    sessions = config.playback_sessions or "unlimited"
    link = f"{config.link_mbps:g} Mbit/s" if config.link_mbps else "unlimited"
    bitrate = f"{config.bitrate_kbps} kbit/s" if config.bitrate_kbps else "as encoded"
    downloads = ", ".join(sorted(config.downloads)) or "none"
    return (
        f"{config.profile} ({config.make} {config.model}); vendor playback {pacing}; "
        f"sessions {sessions}; downloads {downloads}; link {link}; footage {bitrate}"
    )


async def serve(simulator: NvrSimulator) -> None:
    endpoints = await simulator.start()
    config = simulator.config
    print(f"NVR simulator: {len(config.cameras)} cameras, user {config.username!r}")
    print(f"  ONVIF device service: {endpoints.device_service}")
    print(f"  ISAPI / Dahua CGI:    {endpoints.http('/ISAPI/')} {endpoints.http('/cgi-bin/')}")
    print(f"  Device: {describe(config)}")
    for camera in config.cameras:
        kind = "motion-only (gaps)" if camera.schedule == "motion" else "continuous"
        print(f"  {camera.name} ({kind}):")
        print(f"    ONVIF replay: {endpoints.rtsp(f'/onvif/replay/{camera.recording_token}')}")
        print(
            f"    Hikvision:    {endpoints.rtsp(f'/Streaming/tracks/{camera.channel}01')}?starttime=…"
        )
        print(
            f"    Dahua:        {endpoints.rtsp('/cam/playback')}?channel={camera.channel}&starttime=…"
        )
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    args = parser().parse_args(argv)
    simulator = NvrSimulator(
        config_from(args), host=args.host, rtsp_port=args.rtsp_port, http_port=args.http_port
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(simulator))
    return 0
