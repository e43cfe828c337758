"""Open the adapter for an NVR's make from its connection settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from nvr_adapters._common import Clock, utc_now
from nvr_adapters.dahua import DahuaAdapter
from nvr_adapters.hikvision import HikvisionAdapter
from nvr_adapters.onvif import OnvifAdapter
from nvr_adapters.types import NvrAdapter

Vendor = Literal["onvif", "hikvision", "dahua"]
OPTIONS: dict[str, frozenset[str]] = {
    "onvif": frozenset(),
    "hikvision": frozenset({"z_is_local"}),
    "dahua": frozenset(),
}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def open_adapter(
    vendor: Vendor, *, host: str, http_port: int, rtsp_port: int, username: str, password: str,
    timezone: str, options: Mapping[str, str | bool], clock: Clock = utc_now,
) -> NvrAdapter:  # fmt: skip
    """The adapter for `vendor`; unknown vendors and options are refused, not ignored."""
    if vendor not in OPTIONS:
        raise ValueError(f"unknown NVR vendor {vendor!r}; expected one of {sorted(OPTIONS)}")
    unknown = set(options) - OPTIONS[vendor]
    if unknown:
        raise ValueError(f"options {sorted(unknown)} do not apply to a {vendor} NVR")
    if vendor == "onvif":
        # The configured RTSP port is where Saksi reaches the device (a NAT's forward): it
        # replaces the port of the replay URI the device answers, as the host does.
        return OnvifAdapter(host, http_port, username, password, clock=clock, rtsp_port=rtsp_port)
    if vendor == "hikvision":
        z_is_local = _flag(options, "z_is_local")
        return HikvisionAdapter(
            host, http_port, rtsp_port, username, password, timezone, z_is_local, clock=clock
        )
    return DahuaAdapter(host, http_port, rtsp_port, username, password, timezone, clock=clock)


def _flag(options: Mapping[str, str | bool], name: str) -> bool:
    value = options.get(name, False)
    if isinstance(value, bool):
        return value
    if value.strip().lower() in TRUE:
        return True
    if value.strip().lower() in FALSE:
        return False
    raise ValueError(f"option {name} must be true or false, not {value!r}")


__all__ = ["Vendor", "open_adapter"]
