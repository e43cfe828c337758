"""Plain typed factories for test data, arranged through the same services the app uses."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.agencies.models import Agency, AgencyKind
from app.agencies.schemas import AgencyCreate
from app.agencies.service import create_agency
from app.auth.models import Role, User
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.cameras.models import Camera, Nvr, NvrVendor
from app.cameras.schemas import CameraCreate, NvrCreate
from app.cameras.service import create_camera, create_nvr
from app.custody.service import SYSTEM
from app.db import unit_of_work
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.security import issue_token
from app.sop import service as sop_service
from app.sop.definition import StepAction

PASSWORD = "correct-horse-battery"


def pdf_bytes(text: str = "Surat permohonan") -> bytes:
    """A small but well-formed one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def scan_pdf_bytes(text: str = "BAST bertanda tangan") -> bytes:
    """A scanner's PDF: one page that is an image (Pillow writes it), no text layer."""
    page = Image.new("L", (620, 877), color=255)
    ImageDraw.Draw(page).text((60, 80), text, fill=0)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=75.0)
    return out.getvalue()


@dataclass
class Factory:
    session: Session
    runtime: Runtime
    client: TestClient
    _tokens: dict[int, str] = field(default_factory=dict)
    _created: int = 0

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    def agency(self, name: str = "Polres Cirebon Kota", *, active: bool = True) -> Agency:
        data = AgencyCreate(name=name, kind=AgencyKind.POLRI, active=active)
        agency = create_agency(self.session, data, self.now, by=SYSTEM)
        self.session.commit()
        return agency

    def user(self, role: Role, username: str | None = None, agency: Agency | None = None) -> User:
        self._created += 1
        data = UserCreate(
            username=username or f"{role.value.replace('_', '-')}-{self._created}",
            full_name=f"Pengguna {role.value}",
            role=role,
            password=PASSWORD,
            agency_id=agency.id if agency else None,
        )
        user = create_user(self.session, data, self.now, by=SYSTEM)
        self.session.commit()
        return user

    def nvr(self, name: str = "NVR Balai Kota", vendor: NvrVendor = NvrVendor.ONVIF) -> Nvr:
        data = NvrCreate(
            name=name,
            vendor=vendor,
            host="127.0.0.1",
            http_port=8080,
            rtsp_port=8554,
            username="admin",
            password="nvr-secret-1",  # type: ignore[arg-type]
        )
        nvr = create_nvr(self.session, data, self.runtime.secret_box, self.now, by=SYSTEM)
        self.session.commit()
        return nvr

    def camera(self, nvr: Nvr, name: str = "Kamera 1", *, active: bool = True) -> Camera:
        data = CameraCreate(
            name=name,
            location=f"Simpang Empat {name}",
            nvr_id=nvr.id,
            channel=len(nvr.cameras) + 1,
            active=active,
        )
        camera = create_camera(self.session, data, self.now, by=SYSTEM)
        self.session.commit()
        return camera

    def headers(self, user: User) -> dict[str, str]:
        """Log in through the API and return the bearer header."""
        token = self._tokens.get(user.id)
        if not token:
            response = self.client.post(
                "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            self._tokens[user.id] = token
        return {"Authorization": f"Bearer {token}"}


def request_payload(
    agency: Agency, cameras: list[Camera], now: datetime, **overrides: Any
) -> dict[str, Any]:
    """A valid request body: one hour of footage per camera, ending a day before `now`."""
    end = now - timedelta(days=1)
    office = "%Y-%m-%dT%H:%M:%S"
    person = {
        "name": "AKP Budi Santoso",
        "id_number": "83051234",
        "position": "Kasat Reskrim",
        "institution": agency.name,
        "email": "reskrim@polres.example.go.id",
    }
    payload: dict[str, Any] = {
        "agency_id": agency.id,
        "letter_number": "B/123/XI/2026/Reskrim",
        "letter_date": (now - timedelta(hours=2)).date().isoformat(),
        "legal_basis": "Pasal 184 KUHAP",
        "purpose": "penyelidikan perkara pencurian kendaraan bermotor",
        "incident": "Pencurian sepeda motor di Jl. Sunan Drajat, 20 November 2026",
        "officer": person,
        "recipient": {**person, "name": "Bripka Andi Wijaya", "position": "Penyidik Pembantu"},
        "delivery_method": "local_link",
        "items": [
            {
                "camera_id": camera.id,
                # Office time (WIB), no offset: the service reads it in SAKSI_TIMEZONE.
                "start": (end - timedelta(hours=1) + timedelta(hours=7)).strftime(office),
                "end": (end + timedelta(hours=7)).strftime(office),
            }
            for camera in cameras
        ],
    }
    payload.update(overrides)
    return payload


def multipart(
    payload: dict[str, Any], letter: bytes | None = None, media_type: str = "application/pdf"
) -> dict[str, Any]:
    """Build the `data=` and `files=` arguments of a request submission."""
    content = pdf_bytes() if letter is None else letter
    return {
        "data": {"data": json.dumps(payload)},
        "files": {"letter": ("surat.pdf", content, media_type)},
    }


def walk_to_export_step(
    factory: Factory, cameras: int = 1, note: str = ""
) -> tuple[dict[str, Any], dict[Role, User]]:
    """Register a request as a pemohon and walk it through steps 2–5 (operator assigned)."""
    agency = factory.agency()
    nvr = factory.nvr()
    chosen = [factory.camera(nvr, f"Kamera {n}") for n in range(1, cameras + 1)]
    people = {role: factory.user(role) for role in Role if role is not Role.PEMOHON}
    people[Role.PEMOHON] = factory.user(Role.PEMOHON, agency=agency)
    created: dict[str, Any] = factory.client.post(
        "/api/v1/requests",
        headers=factory.headers(people[Role.PEMOHON]),
        **multipart(request_payload(agency, chosen, factory.now)),
    ).json()
    rid = created["id"]
    for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG):
        factory.client.post(
            f"/api/v1/requests/{rid}/dispose", headers=factory.headers(people[role]), json={}
        )
    factory.client.post(
        f"/api/v1/requests/{rid}/assign",
        headers=factory.headers(people[Role.SUBKOORDINATOR]),
        json={"operator_id": people[Role.OPERATOR].id, "note": note},
    )
    return created, people


def walk_runtime_to_export_step(runtime: Runtime, request_id: int) -> None:
    """Dispose the request down the chain and assign the operator, through the SOP service."""
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, request_id)
        assert request is not None
        users = {u.role: u for u in session.scalars(select(User))}
        now = runtime.clock.now()
        for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG):
            sop_service.perform(
                session, runtime.sop, request, users[role], frozenset({StepAction.DISPOSE}), now
            )
        sop_service.perform(
            session, runtime.sop, request, users[Role.SUBKOORDINATOR],
            frozenset({StepAction.ASSIGN}), now, operator=users[Role.OPERATOR],
        )  # fmt: skip
        assert request.current_step == 6


def bearer(runtime: Runtime, role: Role) -> dict[str, str]:
    """A bearer header for the first user of `role`, minted with the service key (no login).

    Valid 60 days from the runtime's clock, so a test may move a frozen clock to day 14."""
    with unit_of_work(runtime.sessions) as session:
        user = session.scalars(select(User).where(User.role == role)).first()
        assert user is not None
        token = issue_token(runtime.token_key, user.id, role.value, runtime.clock.now(),
                            timedelta(days=60))  # fmt: skip
    return {"Authorization": f"Bearer {token}"}
