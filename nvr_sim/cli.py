"""`python -m nvr_sim` / `saksi nvr-sim`: run the simulated NVR until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from nvr_sim.config import SimConfig, default_cameras
from nvr_sim.simulator import NvrSimulator


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nvr-sim", description="A simulated ONVIF/RTSP NVR.")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("NVR_SIM_PASSWORD", "saksi-sim"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--retention-hours", type=float, default=24)
    parser.add_argument("--cache-dir", type=Path, default=Path("saksi-data/nvr-sim-cache"))
    parser.add_argument("--realtime", action="store_true", help="pace vendor playback in real time")
    return parser


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        cameras=default_cameras(args.cameras), cache_dir=args.cache_dir, width=args.width,
        height=args.height, fps=args.fps, retention=timedelta(hours=args.retention_hours),
        username=args.username, password=args.password,
    )  # fmt: skip


async def serve(simulator: NvrSimulator) -> None:
    endpoints = await simulator.start()
    config = simulator.config
    print(f"NVR simulator: {len(config.cameras)} cameras, user {config.username!r}")
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
        config_from(args), host=args.host, rtsp_port=args.rtsp_port, realtime_vendor=args.realtime
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(simulator))
    return 0
