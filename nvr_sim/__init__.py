"""A simulated NVR that speaks the real protocols over synthetic footage (a device, not a client).

RTSP replay in the ONVIF Profile G style (0xABAC extension, `Range: clock=`), the Hikvision
and Dahua playback URLs and HTTP downloads, behaving like a chosen real device (`profiles`);
see docs/nvr-sim.md.
"""

from nvr_sim.archive import Archive, ReplayUnit, Span
from nvr_sim.config import CameraConfig, SimConfig, default_cameras
from nvr_sim.footage import AccessUnit, Footage
from nvr_sim.profiles import PROFILES, DeviceProfile, apply_profile
from nvr_sim.simulator import Endpoints, NvrSimulator, SimulatorThread

__all__ = [
    "AccessUnit",
    "Archive",
    "CameraConfig",
    "DeviceProfile",
    "Endpoints",
    "Footage",
    "NvrSimulator",
    "PROFILES",
    "ReplayUnit",
    "SimConfig",
    "SimulatorThread",
    "Span",
    "apply_profile",
    "default_cameras",
]
