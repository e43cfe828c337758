"""What a clip's record says of the NVR's and the camera's MAC addresses (manifest/3
`mac_addresses`, docs/manifest.md): the address, or None, and where it came from or why there
is none. The export's own reading of the device comes first: it is what the device said while
its footage was taken."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.cameras.models import Camera, MacSource

MacRecord = dict[str, str | None]
NVR_SILENT = (
    "the NVR did not tell it (ONVIF GetNetworkInterfaces, ISAPI System/Network/interfaces or "
    "the Dahua Network config) and none is registered"
)
CAMERA_SILENT = "NVRs do not report their cameras' MAC addresses; none is registered"
REGISTERED = {
    MacSource.DEVICE.value: "told by the NVR when its connection was last tested (registry)",
    MacSource.OPERATOR.value: "entered in the registry by an administrator",
}


def mac_addresses(camera: Camera, device: Mapping[str, Any]) -> dict[str, MacRecord]:
    """The `mac_addresses` of a clip of `camera`, whose export stored `device` (Export.device:
    what the NVR told at the export, `mac` and `mac_method` among it when it told one)."""
    told = device.get("mac")
    if isinstance(told, str) and told:
        call = device.get("mac_method") or "its network interfaces"
        nvr: MacRecord = {"address": told, "source": f"told by the NVR during the export ({call})"}
    else:
        nvr = _registered(camera.nvr.mac_address, camera.nvr.mac_source, NVR_SILENT)
    return {"nvr": nvr, "camera": _registered(camera.mac_address, camera.mac_source, CAMERA_SILENT)}


def _registered(address: str | None, source: str | None, silent: str) -> MacRecord:
    if address is None:
        return {"address": None, "source": silent}
    return {"address": address, "source": REGISTERED.get(source or "", "registered")}
