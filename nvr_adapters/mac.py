"""Device MAC addresses, one written form: `aa:bb:cc:dd:ee:ff`.

Devices write them as they like: ONVIF's `tt:HwAddress` is an xs:token with no pattern
(onvif/specs wsdl/ver10/schema/onvif.xsd), ISAPI and the Dahua CGI use colons in either case,
and captures show dashes (`AC-CC-8E-12-34-56`) too. An all-zero or broadcast address is what a
device answers when it has none to tell (simulators and some firmware fill `00:00:00:00:00:00`):
read as no answer, not as a MAC.
"""

from __future__ import annotations

import re

HEX12 = re.compile(r"^[0-9a-f]{12}$")
PATTERN = r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"  # the normalised form (manifest schema, API)
NOT_AN_ADDRESS = frozenset({"000000000000", "ffffffffffff"})


def normalise_mac(text: str) -> str:
    """`aa:bb:cc:dd:ee:ff` from colon, dash, dot (Cisco `aabb.ccdd.eeff`) or bare forms;
    ValueError for anything else."""
    digits = re.sub(r"[:\-.\s]", "", text.strip().lower())
    separators = {c for c in text.strip() if c in ":-."}
    if not HEX12.match(digits) or len(separators) > 1:
        raise ValueError(f"not a MAC address: {text!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def device_mac(text: str | None) -> str | None:
    """A device's answer as a MAC address, or None when it tells none (empty, unreadable,
    all zeros, broadcast)."""
    if not text or not text.strip():
        return None
    try:
        mac = normalise_mac(text)
    except ValueError:
        return None
    return None if mac.replace(":", "") in NOT_AN_ADDRESS else mac
