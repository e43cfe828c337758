""" "Test connection" for an NVR: ask the device who it is and what its clock says.

The answer (make, model, firmware, serial, MAC address, clock offset and how it was measured) is
what every export will put on record, so an administrator checks it when registering the NVR. A
MAC address the device tells is kept in the registry (`service.device_mac_told`). The device is
asked after the caller's transaction has been committed: on SQLite a session holds the write
lock, and a slow or absent device must not hold up the exports.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.orm import Session

from app.auth.models import User
from app.cameras.models import Nvr
from app.cameras.schemas import NvrProbeRead
from app.cameras.service import adapter_options, device_mac_told, nvr_password
from app.custody import service as custody
from app.runtime import Runtime
from custody.events import JsonValue
from nvr_adapters import NvrAdapter, NvrError
from nvr_adapters.factory import open_adapter


def probe_nvr(runtime: Runtime, session: Session, nvr: Nvr, user: User) -> NvrProbeRead:
    """Probe the NVR now; record the attempt and its answer as a custody event."""
    adapter = open_adapter(
        nvr.vendor.value, host=nvr.host, http_port=nvr.http_port, rtsp_port=nvr.rtsp_port,
        username=nvr.username, password=nvr_password(nvr, runtime.secret_box),
        timezone=nvr.timezone, options=adapter_options(nvr),
    )  # fmt: skip
    nvr_id, name, address = nvr.id, nvr.name, f"{nvr.host}:{nvr.http_port}"
    session.commit()  # release the database before the device is asked
    result = asyncio.run(_ask(adapter, nvr_id, runtime.clock.now()))
    by = custody.performer(user)
    custody.record(
        session, "nvr.probed", by, runtime.clock.now(),
        object={"nvr": name, "address": address},
        result=_on_record(result),
    )  # fmt: skip
    if result.mac_address is not None:
        device_mac_told(
            session, nvr, result.mac_address, result.mac_method, runtime.clock.now(), by=by
        )
    return result


def _on_record(result: NvrProbeRead) -> dict[str, JsonValue]:
    """The answer as the ledger keeps it: numbers as strings (no floats in canonical JSON)."""
    answer = result.model_dump(mode="json", exclude={"nvr_id"}, exclude_none=True)
    return {k: f"{v:.3f}" if isinstance(v, float) else v for k, v in answer.items()}


async def _ask(adapter: NvrAdapter, nvr_id: int, now: datetime) -> NvrProbeRead:
    try:
        info = await adapter.probe()
    except NvrError as exc:
        return NvrProbeRead(nvr_id=nvr_id, reachable=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        await adapter.aclose()
    clock = info.clock
    return NvrProbeRead(
        nvr_id=nvr_id, reachable=True, make=info.make, model=info.model,
        firmware=info.firmware, serial=info.serial, mac_address=info.mac,
        mac_method=info.mac_method, clock_offset_s=round(clock.seconds, 3),
        clock_uncertainty_s=round(clock.uncertainty_s, 3), clock_method=clock.method,
        measured_at=clock.measured_at,
    )  # fmt: skip
