from __future__ import annotations

from datetime import datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.cameras.models import NvrVendor
from app.settings import known_zone
from nvr_adapters.mac import normalise_mac

# A host name or an IPv4/IPv6 address, nothing else: it ends up inside URLs we build.
HOST_PATTERN = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$"  # noqa: E501
Port = Field(ge=1, le=65535)
PLAYBACK_LIMIT = Field(default=None, ge=1, le=16)
Z_IS_LOCAL = "hikvision_z_is_local applies only to a Hikvision NVR"
# An operator-entered MAC address: any common written form, stored as aa:bb:cc:dd:ee:ff.
MAC = Field(default=None, min_length=12, max_length=17)


def _mac(value: str | None) -> str | None:
    return None if value is None else normalise_mac(value)


class NvrCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    vendor: NvrVendor
    host: str = Field(min_length=1, max_length=255, pattern=HOST_PATTERN)
    http_port: int = Port
    rtsp_port: int = Port
    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=256)
    timezone: str = "Asia/Jakarta"
    hikvision_z_is_local: bool = False
    playback_limit: int | None = PLAYBACK_LIMIT
    mac_address: str | None = MAC
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    _normal_mac = field_validator("mac_address")(_mac)

    @field_validator("hikvision_z_is_local")
    @classmethod
    def _only_hikvision(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("vendor") is not NvrVendor.HIKVISION:
            raise ValueError(Z_IS_LOCAL)
        return value


class NvrUpdate(BaseModel):
    # A field that cannot change (vendor) is refused, not silently ignored.
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    host: str | None = Field(default=None, min_length=1, max_length=255, pattern=HOST_PATTERN)
    http_port: int | None = Field(default=None, ge=1, le=65535)
    rtsp_port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: SecretStr | None = Field(default=None, min_length=1, max_length=256)
    timezone: str | None = None
    hikvision_z_is_local: bool | None = None
    playback_limit: int | None = PLAYBACK_LIMIT  # null: back to the service's default
    mac_address: str | None = MAC  # null: forget it
    active: bool | None = None

    _normal_mac = field_validator("mac_address")(_mac)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class NvrRead(BaseModel):
    """An NVR as the API shows it: never with its password."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    vendor: NvrVendor
    host: str
    http_port: int
    rtsp_port: int
    username: str
    timezone: str
    hikvision_z_is_local: bool
    playback_limit: int | None
    mac_address: str | None
    mac_source: str | None  # "device" (read by Test connection) or "operator"
    active: bool


class CameraCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    location: str = Field(min_length=1, max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    nvr_id: int
    channel: int | None = Field(default=None, ge=1, le=1024)
    source_token: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$"
    )
    mac_address: str | None = MAC
    active: bool = True

    _normal_mac = field_validator("mac_address")(_mac)

    @model_validator(mode="after")
    def _addressable(self) -> CameraCreate:
        if self.channel is None and self.source_token is None:
            raise ValueError("a camera needs a channel or an ONVIF source token")
        return self


class CameraUpdate(BaseModel):
    # Which NVR and channel a camera's name stands for never changes (register a new camera):
    # a request to change it is refused, not silently ignored.
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    location: str | None = Field(default=None, min_length=1, max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    mac_address: str | None = MAC  # null: forget it
    active: bool | None = None

    _normal_mac = field_validator("mac_address")(_mac)

    @field_validator("name", "location", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Leaving a field out keeps it; null would erase what every request names the camera
        # by (the coordinates may be cleared with null).
        if value is None:
            raise ValueError("may be left out, not set to null")
        return value


class CameraRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    location: str
    latitude: float | None
    longitude: float | None
    nvr_id: int
    channel: int | None
    source_token: str | None
    mac_address: str | None
    mac_source: str | None
    active: bool


class NvrProbeRead(BaseModel):
    """What the NVR said when asked: who it is, and how far its clock is from ours."""

    nvr_id: int
    reachable: bool
    make: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    # The device's MAC address as it told it (None: it does not), and the call it was read with.
    mac_address: str | None = None
    mac_method: str | None = None
    # Positive: the device clock is ahead of ours. Exports move windows by it when it exceeds
    # the measurement's uncertainty.
    clock_offset_s: float | None = None
    clock_uncertainty_s: float | None = None
    clock_method: str | None = None
    measured_at: datetime | None = None
    error: str | None = None
