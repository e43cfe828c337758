"""manifest/3's device record per clip (issue 20 item 4 and the checklists' "settings changed or
restored during the export"): the NVR's and camera's MAC addresses with where each came from, and
the calls Saksi sent the NVR, with those that could change a setting, taken from the export's
method as the adapter recorded it; null with a reason where the export did not record them."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any, cast

import pytest

from custody.errors import CustodyError
from custody.package import (
    DEFINITIONS,
    MANIFEST_VERSION,
    ClipEntry,
    PackageInfo,
    _clip_json,
    check_manifest,
)
from tests.custody.test_package import RECORD, entry

CALLS = ["ONVIF GetSystemDateAndTime", "ONVIF GetNetworkInterfaces", "ONVIF GetReplayUri",
         "RTSP /onvif/replay/Recording_1"]  # fmt: skip
MACS: dict[str, dict[str, str | None]] = {
    "nvr": {"address": "02:53:4b:53:49:01",
            "source": "told by the NVR during the export (ONVIF GetNetworkInterfaces)"},
    "camera": {"address": None, "source": "NVRs do not report their cameras' MAC addresses; "
               "none is registered"},
}  # fmt: skip


def _manifest(clip: ClipEntry) -> dict[str, Any]:
    info = PackageInfo("SKS-2026-00001", "B/1/2026", "Polresta", {"name": "Diskominfo"},
                       "2026-11-22T03:10:00Z", "origin", "https://saksi.example",
                       **cast(dict[str, Any], RECORD))  # fmt: skip
    manifest = {"version": MANIFEST_VERSION, "definitions": DEFINITIONS, "package": asdict(info),
                "clips": [_clip_json(clip)], "unavailable": []}  # fmt: skip
    parsed: dict[str, Any] = json.loads(json.dumps(manifest))
    return parsed


def test_the_device_record_is_taken_from_what_the_export_recorded() -> None:
    method = {"method": "playback", "speed_x": "9.80", "device_operations": CALLS,
              "device_settings_changed": []}  # fmt: skip
    clip = replace(entry(1, "a" * 64, 10), method=method, mac_addresses=MACS)

    manifest = _manifest(clip)
    check_manifest(manifest)

    [record] = manifest["clips"]
    assert record["mac_addresses"] == MACS
    assert record["device_access"] == {"operations": CALLS, "settings_changed": [],
                                       "settings_restored": []}  # fmt: skip
    assert record["method"] == {"method": "playback", "speed_x": "9.80"}  # said once, not twice


def test_without_a_registry_record_the_mac_the_nvr_told_at_export_is_kept() -> None:
    told = {
        "address": "02:53:4b:53:49:01",
        "read_with": "HTTP GET /ISAPI/System/Network/interfaces",
    }
    method = {"method": "download", "device_operations": CALLS, "device_settings_changed": [],
              "device_mac": told}  # fmt: skip
    silent = {"method": "download", "device_operations": CALLS, "device_settings_changed": []}

    manifest = _manifest(replace(entry(1, "a" * 64, 10), method=method))
    check_manifest(manifest)
    quiet = _manifest(replace(entry(1, "a" * 64, 10), method=silent))["clips"][0]

    [record] = manifest["clips"]
    assert record["mac_addresses"]["nvr"] == {
        "address": "02:53:4b:53:49:01",
        "source": "told by the NVR during the export (HTTP GET /ISAPI/System/Network/interfaces)",
    }
    assert record["mac_addresses"]["camera"]["address"] is None
    assert "device_mac" not in record["method"]
    assert quiet["mac_addresses"]["nvr"] == {
        "address": None, "source": "the NVR did not tell it during the export",
    }  # fmt: skip


def test_an_export_that_recorded_neither_says_so() -> None:
    manifest = _manifest(replace(entry(1, "a" * 64, 10), method={"method": "playback"}))
    check_manifest(manifest)

    [record] = manifest["clips"]
    assert record["mac_addresses"]["nvr"] == {"address": None,
                                              "source": "not recorded for this export"}  # fmt: skip
    access = record["device_access"]
    assert (access["operations"], access["settings_changed"]) == (None, None)
    assert access["note"].startswith("not recorded")


@pytest.mark.parametrize(
    ("path", "value"),
    [(("mac_addresses", "nvr", "address"), "02:53:4B:53:49:01"),  # one written form only
     (("mac_addresses", "camera", "source"), ""),  # a null needs its reason
     (("device_access", "operations"), ["SetSystemDateAndTime"])],  # named with its protocol
)  # fmt: skip
def test_the_schema_refuses_a_device_record_a_reader_could_not_trust(
    path: tuple[str, ...], value: Any
) -> None:
    method = {"method": "playback", "device_operations": CALLS, "device_settings_changed": []}
    manifest = _manifest(replace(entry(1, "a" * 64, 10), method=method, mac_addresses=MACS))
    target = manifest["clips"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CustodyError, match="clips/0/"):
        check_manifest(manifest)
