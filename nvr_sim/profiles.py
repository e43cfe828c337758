"""Device profiles: which real NVR the simulator behaves like, and where each trait comes from.

A profile sets the identity a device reports and the behaviours a client of it meets: vendor
RTSP playback paced at real time, ONVIF replay with or without `Rate-Control: no`, how many
playback and download sessions run at once, which HTTP download it offers, and the bitrate its
cameras record at. The sources are cited next to each value and in docs/nvr-sim.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nvr_sim.config import SimConfig

# The main-stream bitrate of a 2 MP camera as shipped: ISAPI `StreamingChannel` documents that
# public Hikvision clients keep as test fixtures show `<constantBitRate>4096</constantBitRate>`
# at 1920×1080. The footage is padded to it so that a real-time replay and a link-speed
# download of a minute carry a real camera's bytes.
CAMERA_KBPS = 4096


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    make: str
    model: str
    firmware: str
    serial: str
    realtime_vendor: bool
    onvif_rate_control: bool
    playback_sessions: int | None
    downloads: frozenset[str]
    link_mbps: float | None
    bitrate_kbps: int | None
    dahua_item_channel_base: int


SIMULATOR = DeviceProfile(
    name="simulator", make="Saksi", model="NVR Simulator", firmware="1.0.0",
    serial="SAKSI-SIM-0001", realtime_vendor=False, onvif_rate_control=True,
    playback_sessions=None, downloads=frozenset({"isapi", "loadfile"}), link_mbps=None,
    bitrate_kbps=None, dahua_item_channel_base=1,
)  # fmt: skip

# Hikvision DS-7608NI-K2, firmware V4.40.015: the unit techmarkai/hikvision-nvr-ha verified
# against (docs/ARCHITECTURE.md, CHANGELOG 1.0.0): playback RTSP "the device paces at real
# time -- a minute of video takes a minute"; POST /ISAPI/ContentMgmt/download hands recordings
# over "as quickly as the network allows" (measured ~1.4 MB/s). Eight sessions: the datasheet's
# "synchronous playback: 8-ch"; a ninth playback is refused `453 Not Enough Bandwidth`
# (mpromonet/webrtc-streamer#174 and #495, Tedyst/HikLoad#4, all Hikvision playback URLs).
HIKVISION_DS7608 = DeviceProfile(
    name="hikvision-ds7608", make="HIKVISION", model="DS-7608NI-K2", firmware="V4.40.015",
    serial="DS-7608NI-K20820210101CCRRSAKSI0001WCVU", realtime_vendor=True,
    # No public source shows a Hikvision NVR sending ONVIF replay faster than real time.
    onvif_rate_control=False, playback_sessions=8, downloads=frozenset({"isapi"}),
    link_mbps=None, bitrate_kbps=CAMERA_KBPS, dahua_item_channel_base=1,
)  # fmt: skip

# Dahua NVR4108-4KS2. Playback `rtsp://…/cam/playback?channel=…&starttime=…` is "similar with
# Get Real-Time Stream" (Dahua HTTP API §4.1.2, quoted in AlexxIT/WebRTC#620): paced like a
# live stream. Downloads: `loadfile.cgi?action=startLoad` and `RPC_Loadfile<FilePath>` (Dahua
# HTTP API "Download file by time"/"LoadFile"; tchellomello/python-amcrest media.py). Four
# sessions: the datasheet's 4-ch playback. mediaFileFind items number `Channel` from 0 while
# `condition.Channel` counts from 1 (a device's answer quoted in nayrnet/node-dahua-api
# dahua.js: `Channel: '0'` for the file `/mnt/sd/…/001/dav/…`).
DAHUA_NVR4108 = DeviceProfile(
    name="dahua-nvr4108", make="Dahua", model="DHI-NVR4108-4KS2", firmware="4.001.0000000.3",
    serial="7H0ABCDPAZSAKSI", realtime_vendor=True, onvif_rate_control=False,
    playback_sessions=4, downloads=frozenset({"loadfile"}), link_mbps=None,
    bitrate_kbps=CAMERA_KBPS, dahua_item_channel_base=0,
)  # fmt: skip

# A generic ONVIF Profile G recorder: it advertises and honours `Rate-Control: no` (the ONVIF
# Streaming Specification's replay header: the server then sends as fast as it can, as
# GStreamer's rtsp-server does with `onvif-no-rate-control`), offers no vendor download, and
# its vendor-style URLs (served for convenience) are paced like playback.
ONVIF_GENERIC = DeviceProfile(
    name="onvif-generic", make="ONVIF", model="Profile G NVR", firmware="1.0",
    serial="ONVIF-G-0001", realtime_vendor=True, onvif_rate_control=True,
    playback_sessions=None, downloads=frozenset(), link_mbps=None, bitrate_kbps=CAMERA_KBPS,
    dahua_item_channel_base=1,
)  # fmt: skip

PROFILES = {p.name: p for p in (SIMULATOR, HIKVISION_DS7608, DAHUA_NVR4108, ONVIF_GENERIC)}
# What the command line runs unless told otherwise: a real device, the most common in the field.
CLI_DEFAULT = HIKVISION_DS7608.name


def apply_profile(config: SimConfig, name: str) -> SimConfig:
    """Return `config` with the identity and behaviours of the named profile."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    fields = dataclasses.asdict(PROFILES[name])
    fields["profile"] = fields.pop("name")
    return dataclasses.replace(config, **fields)
