"""NVRs and their cameras. Device passwords are stored encrypted and never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.cameras.models import Camera, MacSource, Nvr, NvrVendor
from app.cameras.schemas import Z_IS_LOCAL, CameraCreate, CameraUpdate, NvrCreate, NvrUpdate
from app.custody import service as custody
from app.security import SecretBox
from custody import Performer


def get_nvr(session: Session, nvr_id: int) -> Nvr:
    nvr = session.get(Nvr, nvr_id)
    if nvr is None:
        raise errors.NvrNotFound(f"NVR {nvr_id} does not exist")
    return nvr


def list_nvrs(session: Session) -> list[Nvr]:
    return list(session.scalars(select(Nvr).order_by(Nvr.name)))


def create_nvr(
    session: Session, data: NvrCreate, box: SecretBox, now: datetime, *, by: Performer
) -> Nvr:
    if session.scalar(select(Nvr.id).where(Nvr.name == data.name)) is not None:
        raise errors.AlreadyExists(f"an NVR named {data.name!r} already exists")
    values = data.model_dump(exclude={"password"})
    nvr = Nvr(
        **values,
        password_encrypted=box.encrypt(data.password.get_secret_value()),
        mac_source=MacSource.OPERATOR.value if data.mac_address else None,
        created_at=now,
    )
    session.add(nvr)
    session.flush()
    shown = custody.fields({"nvr": nvr.id} | data.model_dump(mode="json", exclude={"password"}))
    custody.record(session, "registry.nvr_added", by, now, object=shown)  # never the password
    return nvr


def update_nvr(
    session: Session, nvr: Nvr, data: NvrUpdate, box: SecretBox, now: datetime, *, by: Performer
) -> Nvr:
    """Apply what differs from the record; on record when anything did (never the password)."""
    asked = data.model_dump(exclude_unset=True, exclude_none=True, exclude={"password"})
    if "playback_limit" in data.model_fields_set:
        asked["playback_limit"] = data.playback_limit  # null puts the default back
    if "mac_address" in data.model_fields_set:
        asked["mac_address"] = data.mac_address  # null forgets it
    changes = {field: value for field, value in asked.items() if getattr(nvr, field) != value}
    _entered_mac(changes)
    if "name" in changes and session.scalar(select(Nvr.id).where(Nvr.name == changes["name"])):
        raise errors.AlreadyExists(f"an NVR named {changes['name']!r} already exists")
    if changes.get("hikvision_z_is_local") and nvr.vendor is not NvrVendor.HIKVISION:
        raise errors.ValidationFailed(Z_IS_LOCAL)
    for field, value in changes.items():
        setattr(nvr, field, value)
    password = data.password.get_secret_value() if data.password is not None else None
    if password is not None and password != box.decrypt(nvr.password_encrypted):
        nvr.password_encrypted = box.encrypt(password)
        changes["password"] = "changed"
    if changes:
        session.flush()
        shown = custody.fields({"nvr": nvr.id, "name": nvr.name, "changes": changes})
        custody.record(session, "registry.nvr_changed", by, now, object=shown)
    return nvr


def _entered_mac(changes: dict[str, Any]) -> None:
    """An administrator's MAC address (or its removal) is theirs, not the device's answer."""
    if "mac_address" in changes:
        changes["mac_source"] = MacSource.OPERATOR.value if changes["mac_address"] else None


def device_mac_told(
    session: Session, nvr: Nvr, mac: str, method: str | None, now: datetime, *, by: Performer
) -> None:
    """Keep the MAC address the device itself told ("Test connection"); on record when it
    differs from the registry's, with what it replaced."""
    if nvr.mac_address == mac and nvr.mac_source == MacSource.DEVICE.value:
        return
    changes: dict[str, Any] = {"mac_address": mac, "mac_source": MacSource.DEVICE.value,
                               "read_with": method or "", "replaced": nvr.mac_address}  # fmt: skip
    nvr.mac_address, nvr.mac_source = mac, MacSource.DEVICE.value
    session.flush()
    shown = custody.fields({"nvr": nvr.id, "name": nvr.name, "changes": changes})
    custody.record(session, "registry.nvr_changed", by, now, object=shown)


def adapter_options(nvr: Nvr) -> dict[str, str | bool]:
    """The device settings its vendor's adapter takes (`nvr_adapters.factory.OPTIONS`)."""
    if nvr.vendor is NvrVendor.HIKVISION:
        return {"z_is_local": nvr.hikvision_z_is_local}
    return {}


def nvr_password(nvr: Nvr, box: SecretBox) -> str:
    """Decrypt an NVR's password for an adapter; never for an API response."""
    return box.decrypt(nvr.password_encrypted)


def get_camera(session: Session, camera_id: int) -> Camera:
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise errors.CameraNotFound(f"camera {camera_id} does not exist")
    return camera


def list_cameras(session: Session, *, active_only: bool = False) -> list[Camera]:
    query = select(Camera).order_by(Camera.location, Camera.name)
    if active_only:
        query = query.where(Camera.active.is_(True))
    return list(session.scalars(query))


def create_camera(session: Session, data: CameraCreate, now: datetime, *, by: Performer) -> Camera:
    get_nvr(session, data.nvr_id)
    _ensure_unique_camera(session, data.nvr_id, data.name)
    values = data.model_dump()
    source = MacSource.OPERATOR.value if data.mac_address else None
    camera = Camera(**values, mac_source=source, created_at=now)
    session.add(camera)
    session.flush()
    shown = custody.fields({"camera": camera.id} | data.model_dump(mode="json"))
    custody.record(session, "registry.camera_added", by, now, object=shown)
    return camera


def update_camera(
    session: Session, camera: Camera, data: CameraUpdate, now: datetime, *, by: Performer
) -> Camera:
    """Apply what differs from the record; on record when anything did. Its NVR and channel
    never change (`CameraUpdate` refuses them): they decide whose footage its name stands for."""
    asked = data.model_dump(exclude_unset=True)
    changes = {field: value for field, value in asked.items() if getattr(camera, field) != value}
    _entered_mac(changes)
    if "name" in changes:
        _ensure_unique_camera(session, camera.nvr_id, changes["name"])
    for field, value in changes.items():
        setattr(camera, field, value)
    if changes:
        session.flush()
        shown = custody.fields({"camera": camera.id, "name": camera.name, "changes": changes})
        custody.record(session, "registry.camera_changed", by, now, object=shown)
    return camera


def _ensure_unique_camera(session: Session, nvr_id: int, name: str) -> None:
    duplicate = select(Camera.id).where(Camera.nvr_id == nvr_id, Camera.name == name)
    if session.scalar(duplicate) is not None:
        raise errors.AlreadyExists(f"this NVR already has a camera named {name!r}")
