from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, str_enum


class NvrVendor(StrEnum):
    ONVIF = "onvif"
    HIKVISION = "hikvision"
    DAHUA = "dahua"


class MacSource(StrEnum):
    """Where a registered MAC address came from."""

    DEVICE = "device"  # read from the device by "Test connection" (app/cameras/probe.py)
    OPERATOR = "operator"  # entered by an administrator


class Nvr(Base):
    __tablename__ = "nvrs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vendor: Mapped[NvrVendor] = mapped_column(str_enum(NvrVendor, 16))
    host: Mapped[str] = mapped_column(String(255))
    http_port: Mapped[int] = mapped_column(Integer)
    rtsp_port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(128))
    password_encrypted: Mapped[str] = mapped_column(String(1024))
    timezone: Mapped[str] = mapped_column(String(64))
    # Firmware that reads the `…Z` times of Hikvision playback URLs as its local time.
    hikvision_z_is_local: Mapped[bool] = mapped_column(Boolean, default=False)
    # Simultaneous playback sessions this device allows; None: `SAKSI_NVR_PLAYBACK_LIMIT`.
    playback_limit: Mapped[int | None] = mapped_column(Integer)
    # The device's MAC address (`aa:bb:cc:dd:ee:ff`) and where it came from: `MacSource`.
    mac_address: Mapped[str | None] = mapped_column(String(17))
    mac_source: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    cameras: Mapped[list[Camera]] = relationship(back_populates="nvr")


class Camera(Base):
    """One camera of an NVR: the *lokasi/titik CCTV* a request names."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("nvr_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    nvr_id: Mapped[int] = mapped_column(ForeignKey("nvrs.id"))
    channel: Mapped[int | None] = mapped_column(Integer)
    source_token: Mapped[str | None] = mapped_column(String(128))
    # The camera's MAC address, entered by an operator (NVRs do not tell their cameras').
    mac_address: Mapped[str | None] = mapped_column(String(17))
    mac_source: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    nvr: Mapped[Nvr] = relationship(back_populates="cameras")
