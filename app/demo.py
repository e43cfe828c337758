"""Demo data: one account per role, an agency, an NVR with four cameras in Kabupaten Cirebon.

Used by `saksi demo` and by the browser tests, so what a newcomer clicks through is exactly what
the tests drive.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.agencies.models import Agency, AgencyKind
from app.agencies.schemas import AgencyCreate
from app.agencies.service import create_agency
from app.auth.models import Role, User
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.cameras.models import Camera, NvrVendor
from app.cameras.schemas import CameraCreate, NvrCreate, NvrUpdate
from app.cameras.service import create_camera, create_nvr, update_nvr
from app.custody import service as custody
from app.db import unit_of_work
from app.handover.demo_signers import ensure_demo_signers, seal_person
from app.requests import letters, preservation
from app.requests.models import DeliveryMethod, EvidenceRequest
from app.requests.schemas import ItemCreate, Person, RequestCreate
from app.requests.service import IntakePolicy, register_request
from app.runtime import Runtime
from app.settings import SigningKeyName
from nvr_sim.config import segment_start

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
# Every demo account has an address, so `saksi demo --walkthrough` with SAKSI_SMTP_URL set
# e-mails its whole SOP run (issue 19): the office's staff at the office's (example) domain, the
# pemohon at the agency's.
STAFF_DOMAIN = "diskominfo.cirebonkab.example.go.id"
AGENCY_DOMAIN = "polresta-cirebon.example.go.id"


def demo_email(role: Role) -> str:
    """The demo account of `role`'s address, e.g. kadis@diskominfo.cirebonkab.example.go.id."""
    domain = AGENCY_DOMAIN if role is Role.PEMOHON else STAFF_DOMAIN
    return f"{PEOPLE[role][0]}@{domain}"


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
            agency = create_agency(
                session, AgencyCreate(name=AGENCY, kind=AgencyKind.POLRI), now, by=custody.SYSTEM
            )
        world.agency_id = agency.id
        for role, (username, full_name, position) in PEOPLE.items():
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                continue
            password = (passwords or {}).get(role) or secrets.token_urlsafe(12)
            data = UserCreate(
                username=username, full_name=full_name, role=role, password=password,
                position=position, agency_id=agency.id if role is Role.PEMOHON else None,
                email=demo_email(role),
            )  # fmt: skip
            create_user(session, data, now, by=custody.SYSTEM)
            world.passwords[role] = (username, password)
        world.camera_ids = _cameras(session, runtime, nvr)
    return world


def _cameras(session: Session, runtime: Runtime, nvr: NvrEndpoint) -> list[int]:
    existing = list(session.scalars(select(Camera).order_by(Camera.id)))
    if existing:
        # The simulator may listen elsewhere this time: point the NVR record at it.
        update = NvrUpdate(
            host=nvr.host, http_port=nvr.http_port, rtsp_port=nvr.rtsp_port,
            password=SecretStr(nvr.password),
        )  # fmt: skip
        update_nvr(session, existing[0].nvr, update, runtime.secret_box, runtime.clock.now(),
                   by=custody.SYSTEM)  # fmt: skip
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
        by=custody.SYSTEM,
    )  # fmt: skip
    ids = []
    for channel, (name, location, latitude, longitude) in enumerate(CAMERAS, start=1):
        data = CameraCreate(
            name=name, location=location, latitude=latitude, longitude=longitude,
            nvr_id=record.id, channel=channel, source_token=f"Profile_{channel}",
        )  # fmt: skip
        ids.append(create_camera(session, data, runtime.clock.now(), by=custody.SYSTEM).id)
    return ids


def sample_window(
    now: datetime, segment_seconds: int, motion_period: int
) -> tuple[datetime, datetime]:
    """A five-minute window about two hours ago that contains a gap of the motion-only camera."""
    moment = segment_start(now - timedelta(hours=2), segment_seconds)
    while (int(moment.timestamp()) // segment_seconds) % motion_period != motion_period - 1:
        moment -= timedelta(seconds=segment_seconds)
    return moment - timedelta(minutes=2), moment + timedelta(minutes=3)


def letter_pdf(letter_number: str, today: date) -> bytes:
    """A sample request letter, as a real one-page PDF."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    lines = [
        "KEPOLISIAN NEGARA REPUBLIK INDONESIA",
        "DAERAH JAWA BARAT - RESOR KOTA CIREBON",
        "",
        f"Nomor   : {letter_number}",
        f"Tanggal : {today:%d-%m-%Y}",
        "Perihal : Permohonan data rekaman CCTV",
        "",
        "Kepada Yth. Kepala Dinas Komunikasi dan Informatika Kabupaten Cirebon",
        "Dalam rangka penyelidikan perkara pencurian kendaraan bermotor, kami mohon",
        "salinan rekaman CCTV pada titik dan waktu terlampir. (CONTOH UNTUK DEMO)",
    ]
    text = canvas.beginText(72, 770)
    for line in lines:
        text.textLine(line)
    canvas.drawText(text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def sample_request(runtime: Runtime, world: DemoWorld, window: tuple[datetime, datetime]) -> int:
    """Register the sample request as the demo pemohon, as the web form would."""
    now, settings = runtime.clock.now(), runtime.settings
    data = _sample_data(world, window, now, runtime.zone)
    with unit_of_work(runtime.sessions) as session:
        pemohon = session.scalar(select(User).where(User.username == PEOPLE[Role.PEMOHON][0]))
        assert pemohon is not None
        query = select(EvidenceRequest.id).where(EvidenceRequest.agency_id == world.agency_id)
        existing = session.scalar(query)
        if existing is not None:
            return existing
        staged = letters.stage_letter(
            io.BytesIO(letter_pdf(data.letter_number, data.letter_date)), "surat-permohonan.pdf",
            "application/pdf", settings.data_dir, settings.letter_max_bytes,
        )  # fmt: skip
        policy = IntakePolicy(
            zone=runtime.zone,
            max_window=timedelta(hours=settings.max_window_hours),
            data_dir=settings.data_dir,
        )
        request = register_request(session, runtime.sop, policy, data, staged, pemohon, now)
        preservation.schedule_check(runtime, session, request)
        return request.id


def _sample_data(
    world: DemoWorld, window: tuple[datetime, datetime], now: datetime, zone: ZoneInfo
) -> RequestCreate:
    officer = Person(
        name="AKP Budi Santoso", id_number="83051234", position="Kasat Reskrim",
        institution=AGENCY, email="reskrim@polresta-cirebon.example.go.id",
    )  # fmt: skip
    recipient = officer.model_copy(
        update={"name": "Bripka Andi Wijaya", "position": "Penyidik Pembantu"}
    )
    return RequestCreate(
        agency_id=world.agency_id,
        letter_number=f"B/{now:%j}/DEMO/{now:%Y}/Reskrim",
        letter_date=now.astimezone(zone).date(),
        legal_basis="Pasal 184 KUHAP; Surat Perintah Penyelidikan",
        purpose="penyelidikan perkara pencurian kendaraan bermotor",
        incident="Pencurian sepeda motor di sekitar Simpang Empat Sumber",
        officer=officer,
        recipient=recipient,
        delivery_method=DeliveryMethod.LOCAL_LINK,
        items=[ItemCreate(camera_id=c, start=window[0], end=window[1]) for c in world.camera_ids],
    )


def remember_accounts(data_dir: Path, world: DemoWorld) -> str:
    """Keep the demo passwords (owner-only file) so every later run can print them again."""
    path = data_dir / "secrets" / "demo-accounts.txt"
    known = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = [
        f"  {role.value:<15} {user} / {password}"
        for role, (user, password) in world.passwords.items()
    ]
    if lines:
        known += "\n".join(lines) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(known)
    return known


def demo_signing_keys(runtime: Runtime) -> None:
    """Throw-away PKCS#12 keys for the demo's operator, subkoordinator and office seal, so the
    request page's signing forms and the portal's approval work in `saksi demo` as they do in
    an office with keys (never when SAKSI_SIGNING__… names keys; the demo CA says it is not for
    production)."""
    settings = runtime.settings
    if settings.signing:
        return
    office = settings.office.name
    with runtime.sessions() as session:
        staff = {role: session.scalars(select(User).where(User.role == role)).first()
                 for role in (Role.OPERATOR, Role.SUBKOORDINATOR)}  # fmt: skip
    operator, subkoordinator = staff[Role.OPERATOR], staff[Role.SUBKOORDINATOR]
    if operator is None or subkoordinator is None:
        return
    people: dict[SigningKeyName, tuple[str, str]] = {
        "operator": (operator.full_name, office),
        "subkoordinator": (subkoordinator.full_name, office),
        "seal": seal_person(office),
    }
    _ca, keys = ensure_demo_signers(settings.data_dir, people, office, runtime.clock.now())
    runtime.settings = settings.model_copy(update={"signing": keys})
