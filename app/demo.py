"""Demo data: one account per role, an agency, an NVR with four cameras in Kabupaten Cirebon.

Used by `saksi demo` and by the browser tests, so what a newcomer clicks through is exactly what
the tests drive.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.agencies.models import Agency, AgencyKind
from app.agencies.schemas import AgencyCreate
from app.agencies.service import create_agency
from app.auth.models import Role, User
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.cameras.models import Camera, NvrVendor
from app.cameras.schemas import CameraCreate, NvrCreate
from app.cameras.service import create_camera, create_nvr
from app.db import unit_of_work
from app.runtime import Runtime

AGENCY = "Polresta Cirebon"
CAMERAS = (
    ("Kamera 1", "Simpang Empat Sumber (Jl. Dewi Sartika)", -6.7596, 108.4806),
    ("Kamera 2", "Alun-alun Pataraksa Sumber", -6.7611, 108.4772),
    ("Kamera 3", "Pasar Celancang, Suranenggala", -6.6549, 108.5392),
    ("Kamera 4", "Bundaran Weru (kamera gerak)", -6.7177, 108.5050),
)
PEOPLE = {
    Role.ADMIN: ("admin-demo", "Administrator Saksi", "Administrator"),
    Role.KEPALA_DINAS: ("kadis", "Bambang Sudaryanto, S.H., M.H.", "Kepala Dinas"),
    Role.SEKRETARIS: ("sekdis", "Dra. Siti Rohmah", "Sekretaris Dinas"),
    Role.KEPALA_BIDANG: ("kabid-ti", "Ir. Agus Salim", "Kepala Bidang Teknologi dan Informatika"),
    Role.SUBKOORDINATOR: ("subkor", "Rudi Hartono, S.Kom.", "Subkoordinator Infrastruktur TI"),
    Role.OPERATOR: ("operator", "Dewi Lestari, A.Md.", "Staf/Operator Pengelola CCTV"),
    Role.AUDITOR: ("auditor", "Hendra Wijaya, S.E.", "Auditor Internal"),
    Role.PEMOHON: ("penyidik", "Bripka Andi Wijaya", "Penyidik Pembantu Satreskrim"),
}


@dataclass(frozen=True, slots=True)
class NvrEndpoint:
    host: str
    http_port: int
    rtsp_port: int
    username: str
    password: str
    vendor: NvrVendor = NvrVendor.ONVIF


@dataclass
class DemoWorld:
    passwords: dict[Role, tuple[str, str]] = field(default_factory=dict)
    agency_id: int = 0
    camera_ids: list[int] = field(default_factory=list)


def seed(runtime: Runtime, nvr: NvrEndpoint, passwords: dict[Role, str] | None = None) -> DemoWorld:
    """Create the demo accounts and registry once; a second call changes nothing."""
    world = DemoWorld()
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        agency = session.scalar(select(Agency).where(Agency.name == AGENCY))
        if agency is None:
            agency = create_agency(session, AgencyCreate(name=AGENCY, kind=AgencyKind.POLRI), now)
        world.agency_id = agency.id
        for role, (username, full_name, position) in PEOPLE.items():
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                continue
            password = (passwords or {}).get(role) or secrets.token_urlsafe(9)
            data = UserCreate(
                username=username, full_name=full_name, role=role, password=password,
                position=position, agency_id=agency.id if role is Role.PEMOHON else None,
            )  # fmt: skip
            create_user(session, data, now)
            world.passwords[role] = (username, password)
        world.camera_ids = _cameras(session, runtime, nvr)
    return world


def _cameras(session: Session, runtime: Runtime, nvr: NvrEndpoint) -> list[int]:
    existing = list(session.scalars(select(Camera).order_by(Camera.id)))
    if existing:
        return [camera.id for camera in existing]
    record = create_nvr(
        session,
        NvrCreate(
            name="NVR Simulator Diskominfo", vendor=nvr.vendor, host=nvr.host,
            http_port=nvr.http_port, rtsp_port=nvr.rtsp_port, username=nvr.username,
            password=SecretStr(nvr.password),
        ),
        runtime.secret_box,
        runtime.clock.now(),
    )  # fmt: skip
    ids = []
    for channel, (name, location, latitude, longitude) in enumerate(CAMERAS, start=1):
        data = CameraCreate(
            name=name, location=location, latitude=latitude, longitude=longitude,
            nvr_id=record.id, channel=channel, source_token=f"Profile_{channel}",
        )  # fmt: skip
        ids.append(create_camera(session, data, runtime.clock.now()).id)
    return ids
