"""What the simulated NVR records: cameras, picture, schedule, retention, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class CameraConfig:
    channel: int
    name: str
    # "continuous", or "motion": records only some segments, leaving gaps like a motion camera.
    schedule: str = "continuous"
    # Hikvision firmware differs on whether `…Z` playback times mean UTC or local time.
    hikvision_z_is_local: bool = False
    # What the camera records: H.264 (RFC 6184 over RTP) or H.265 (RFC 7798).
    codec: Literal["h264", "h265"] = "h264"

    @property
    def token(self) -> str:
        return f"Profile_{self.channel}"

    @property
    def recording_token(self) -> str:
        return f"Recording_{self.channel}"

    @property
    def codec_label(self) -> str:
        """The codec as devices name it in ONVIF track descriptions and ISAPI `codecType`."""
        return "H.265" if self.codec == "h265" else "H.264"


@dataclass(frozen=True)
class SimConfig:
    cameras: tuple[CameraConfig, ...]
    cache_dir: Path
    width: int = 1280
    height: int = 720
    fps: int = 25
    gop_seconds: int = 2
    segment_seconds: int = 60
    retention: timedelta = timedelta(hours=24)
    timezone: str = "Asia/Jakarta"
    username: str = "admin"
    password: str = "saksi-sim"
    clock_offset: timedelta = timedelta(0)
    # Every `motion_period`-th segment of a motion camera is not recorded.
    motion_period: int = 4
    make: str = "Saksi"
    model: str = "NVR Simulator"
    firmware: str = "1.0.0"
    serial: str = "SAKSI-SIM-0001"
    # The NVR's own MAC address as it answers ONVIF GetNetworkInterfaces, ISAPI
    # System/Network/interfaces and the Dahua Network config (locally administered: no vendor's
    # OUI); None: a device that tells none (ONVIF omits tt:Info, ISAPI and CGI refuse the call).
    mac: str | None = "02:53:4b:53:49:01"
    faults: dict[int, dict[str, float]] = field(default_factory=dict)
    # The device simulated (nvr_sim.profiles sets the fields below from it). The default is the
    # simulator as programs and tests have always had it: nothing paced, no limits.
    profile: str = "simulator"
    # Vendor RTSP playback (/Streaming/tracks, /cam/playback) paced at real time.
    realtime_vendor: bool = False
    # Whether ONVIF replay honours `Rate-Control: no` (sends as fast as it can) or paces anyway.
    onvif_rate_control: bool = True
    # Simultaneous playback and download sessions the device allows; None: no limit.
    playback_sessions: int | None = None
    # The HTTP downloads offered: "isapi" (ContentMgmt/download), "loadfile" (Dahua).
    downloads: frozenset[str] = frozenset({"isapi", "loadfile"})
    # The device's network link, shared by every connection, in Mbit/s; None: unlimited.
    link_mbps: float | None = None
    # Footage brought up to this bitrate with filler data, kbit/s; None: as encoded.
    bitrate_kbps: int | None = None
    # What Dahua mediaFileFind numbers `items[i].Channel` from (requests count from 1).
    dahua_item_channel_base: int = 1

    def camera(self, channel: int) -> CameraConfig:
        for camera in self.cameras:
            if camera.channel == channel:
                return camera
        raise KeyError(f"no camera on channel {channel}")


def default_cameras(count: int) -> tuple[CameraConfig, ...]:
    """Camera 1 records continuously; with several cameras, the last is motion-only."""
    return tuple(
        CameraConfig(
            channel=number,
            name=f"Kamera {number}",
            schedule="motion" if count > 1 and number == count else "continuous",
        )
        for number in range(1, count + 1)
    )


def segment_start(moment: datetime, seconds: int) -> datetime:
    """The start of the archive segment that contains `moment` (segments align to the epoch)."""
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=moment.tzinfo)
