"""`saksi demo --walkthrough`: one request end to end through the REST API, then a JSON summary.

It runs what a newcomer would click through: the pemohon registers a letter, the officials
dispose it, the subkoordinator assigns the operator, the operator exports every item from the
simulator, builds the evidence package, delivers it, issues the BAST, has it signed
electronically (PAdES, each party with a demo key), which closes the handover step without a
scan, and logs the request. Every call goes over HTTP to the real service on loopback, except
the recipient's signature: in the demo the recipient holds a certificate of their own (as with
BSrE), which the portal has no form for, so it is made in process (`app.handover.signing`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.demo import DemoWorld, letter_pdf, sample_window
from app.exports.models import Export
from app.handover.demo_signers import ensure_demo_signers, seal_person
from app.handover.models import Handover
from app.handover.signing import sign_bast
from app.main import create_app
from app.notify import tasks as notify_tasks
from app.requests.models import EvidenceRequest, RequestItem
from app.runtime import Runtime
from app.security import issue_token
from app.settings import SignerRole, SigningKeyName

RECIPIENT = {"name": "Bripka Andi Wijaya", "institution": "Polresta Cirebon"}
# The order the BAST is signed in: the operator hands over, the subkoordinator acknowledges,
# the recipient receives.
SIGNING_ORDER: tuple[SignerRole, ...] = ("operator", "subkoordinator", "recipient")
POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 600.0
TERMINAL = {"done", "partial", "failed"}


@contextmanager
def serve(runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the service (API, web UI, job workers) on `host:port` (0: a free port); yield the
    address it answers on, which becomes the public URL printed into evidence unless
    `SAKSI_PUBLIC_URL` names another."""
    config = uvicorn.Config(
        create_app(runtime, run_workers=True), host=host, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="saksi-walkthrough", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the service did not start on {host}:{port}")
    bound = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://{host}:{bound}"
    if "public_url" not in runtime.settings.model_fields_set:
        runtime.settings = runtime.settings.model_copy(update={"public_url": base})
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run(
    runtime: Runtime, world: DemoWorld, footage: tuple[int, int], address: tuple[str, int]
) -> dict[str, Any]:
    """Drive one request end to end on `address` (host, port; 0: a free port); return the
    summary printed as the last line. `footage`: the simulator's segment length and motion
    period."""
    segment_seconds, motion_period = footage
    with serve(runtime, *address) as base, httpx.Client(base_url=base, timeout=60) as http:
        walk = Walk(runtime, http)
        # One minute of each camera, half of it inside a gap of the motion-only one.
        start, _end = sample_window(runtime.clock.now(), segment_seconds, motion_period)
        gap = start + timedelta(minutes=2)
        window = (gap - timedelta(seconds=30), gap + timedelta(seconds=30))
        request_id = walk.register(world, window)
        walk.dispositions(request_id)
        exports = walk.exports(request_id)
        package = walk.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/package")
        delivery = walk.deliver(request_id)
        bast = walk.handover(request_id)
        walk.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/complete", json={})
        # The run's notifications, sent now rather than at the minute's job (issue 19).
        notify_tasks.flush(runtime)
    data_dir = runtime.settings.data_dir.resolve()
    return {
        "request_id": request_id,
        "data_dir": str(data_dir),
        "exports": [_export_summary(runtime, item) for item in exports],
        "package": str(data_dir / "packages" / package["clips"][0]["exhibit"].rsplit("/", 1)[0]),
        "delivery": delivery,
        "bast": bast,
        "public_url": runtime.settings.public_url,
    }


class Walk:
    """REST calls as each role, with tokens the service itself would issue at login."""

    def __init__(self, runtime: Runtime, http: httpx.Client) -> None:
        self.runtime, self.http = runtime, http
        self.users = self._users()

    def _users(self) -> dict[Role, User]:
        with self.runtime.sessions() as session:
            users = {u.role: u for u in session.scalars(select(User).where(User.active.is_(True)))}
            session.expunge_all()
        return users

    def headers(self, role: Role) -> dict[str, str]:
        user = self.users[role]
        token = issue_token(
            self.runtime.token_key,
            user.id,
            role.value,
            self.runtime.clock.now(),
            timedelta(hours=1),
        )
        return {"Authorization": f"Bearer {token}"}

    def call(self, role: Role, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.headers(role), **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"{method} {path} as {role.value}: {response.status_code} {response.text}"
            )
        return response.json()

    def register(self, world: DemoWorld, window: tuple[datetime, datetime]) -> int:
        now = self.runtime.clock.now()
        number = f"B/{now:%Y%m%d%H%M%S}/WALK/Reskrim"
        person = {"name": "AKP Budi Santoso", "id_number": "83051234", "position": "Kasat Reskrim",
                  "institution": "Polresta Cirebon",
                  "email": "reskrim@polresta-cirebon.example.go.id"}  # fmt: skip
        payload = {
            "agency_id": world.agency_id, "letter_number": number,
            "letter_date": now.astimezone(self.runtime.zone).date().isoformat(),
            "legal_basis": "Pasal 184 KUHAP; Surat Perintah Penyelidikan",
            "purpose": "penyelidikan perkara pencurian kendaraan bermotor",
            "incident": "Pencurian sepeda motor di sekitar Simpang Empat Sumber",
            "officer": person,
            "recipient": person | {"name": RECIPIENT["name"], "position": "Penyidik Pembantu"},
            "delivery_method": "google_drive",
            "items": [{"camera_id": c, "start": window[0].isoformat(), "end": window[1].isoformat()}
                      for c in world.camera_ids],
        }  # fmt: skip
        letter = letter_pdf(number, now.date())
        created = self.call(
            Role.PEMOHON, "POST", "/api/v1/requests", data={"data": json.dumps(payload)},
            files={"letter": ("surat-permohonan.pdf", letter, "application/pdf")},
        )  # fmt: skip
        return int(created["id"])

    def dispositions(self, request_id: int) -> None:
        for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG):
            self.call(role, "POST", f"/api/v1/requests/{request_id}/dispose", json={})
        operator = self.users[Role.OPERATOR].id
        self.call(Role.SUBKOORDINATOR, "POST", f"/api/v1/requests/{request_id}/assign",
                  json={"operator_id": operator})  # fmt: skip

    def exports(self, request_id: int) -> list[dict[str, Any]]:
        path = f"/api/v1/requests/{request_id}/exports"
        self.call(Role.OPERATOR, "POST", path)
        exports = self._until(path, lambda rows: all(r["state"] in TERMINAL for r in rows))
        self.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/complete", json={})
        return list(exports)

    def deliver(self, request_id: int) -> dict[str, Any]:
        started = self.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/deliveries")
        path = f"/api/v1/deliveries/{started['id']}"
        delivery = self._until(path, lambda d: d["state"] in ("shared", "failed"))
        if delivery["state"] == "failed":
            raise RuntimeError(f"delivery failed: {delivery['last_error']}")
        root = self.runtime.settings.data_dir.resolve() / "deliveries"
        files = [str(root / _container(request_id, self) / f["name"]) for f in delivery["files"]]
        url = started["link"] or delivery["url"]
        return {"method": delivery["method"], "url": url, "expires_at": delivery["expires_at"],
                "files": files if delivery["method"] == "local" else []}  # fmt: skip

    def handover(self, request_id: int) -> dict[str, Any]:
        issued = self.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/bast")
        printed = self.http.get(f"/api/v1/requests/{request_id}/bast.pdf",
                                headers=self.headers(Role.OPERATOR))  # fmt: skip
        printed.raise_for_status()  # the operator prints it for both parties to sign
        # Signed electronically by all three, the handover closes without a scan (the
        # print-sign-scan path, POST …/bast/signed-scan, is for offices that sign on paper).
        signed = self.esign(request_id)
        base = self.runtime.settings.data_dir.resolve()
        with self.runtime.sessions() as session:
            handover = session.get(Handover, issued["id"])
            assert handover is not None
            pdf_path, docx_path = str(handover.pdf_path), str(handover.docx_path)
        return {
            "number": issued["number"],
            "pdf": str(base / pdf_path),
            "docx": str(base / docx_path),
            **signed,
        }

    def esign(self, request_id: int) -> dict[str, str | None]:
        """Sign the issued BAST electronically as each party in turn, with demo keys unless
        SAKSI_SIGNING__… names real ones: each signature an incremental update. The staff sign
        through the API (`POST …/bast/signatures`), as the web form does; the last signature
        closes the handover step."""
        settings = self.runtime.settings
        data_dir = settings.data_dir.resolve()
        operator, subkoordinator = self.users[Role.OPERATOR], self.users[Role.SUBKOORDINATOR]
        office = settings.office.name
        people: dict[SigningKeyName, tuple[str, str]] = {
            "operator": (operator.full_name, office),
            "subkoordinator": (subkoordinator.full_name, office),
            "recipient": (RECIPIENT["name"], RECIPIENT["institution"]),
            "seal": seal_person(office),  # the portal's uncertified approvals (web UI)
        }
        ca: str | None = None  # the demo CA; keys named in SAKSI_SIGNING__… have their own
        if not settings.signing:
            now = self.runtime.clock.now()
            ca_file, keys = ensure_demo_signers(data_dir, people, office, now)
            self.runtime.settings = settings.model_copy(update={"signing": keys})
            ca = str(ca_file)
        staff = {"operator": Role.OPERATOR, "subkoordinator": Role.SUBKOORDINATOR}
        path = ""
        for role in SIGNING_ORDER:
            if role in staff:
                self.call(staff[role], "POST", f"/api/v1/requests/{request_id}/bast/signatures",
                          json={"role": role})  # fmt: skip
                continue
            with self.runtime.sessions.begin() as session:
                request = session.get(EvidenceRequest, request_id)
                assert request is not None
                now = self.runtime.clock.now()
                path = sign_bast(self.runtime, session, request, role, now).path
        return {"signed_pdf": str(data_dir / path), "signing_ca": ca}

    def _until(self, path: str, done: Any) -> Any:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            body = self.call(Role.OPERATOR, "GET", path)
            if done(body):
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not finish in {TIMEOUT_SECONDS:.0f} s")
            time.sleep(POLL_SECONDS)


def _container(request_id: int, walk: Walk) -> str:
    request = walk.call(Role.OPERATOR, "GET", f"/api/v1/requests/{request_id}")
    return str(request["number"]).replace("/", "_")


def _export_summary(runtime: Runtime, row: dict[str, Any]) -> dict[str, Any]:
    with runtime.sessions() as session:
        export = session.get(Export, row["id"])
        assert export is not None
        camera = export_camera(session, export)
        return {
            "camera": camera[0], "location": camera[1], "state": export.state.value,
            "file": str((runtime.settings.data_dir / str(export.file_path)).resolve()),
            "sha256": export.sha256, "bytes": export.size_bytes,
            "first_frame_utc": _iso(export.first_frame_at),
            "last_frame_utc": _iso(export.last_frame_at),
            "window_start_utc": _iso(camera[2]), "window_end_utc": _iso(camera[3]),
            "gaps": export.gaps or [],
        }  # fmt: skip


def export_camera(session: Session, export: Export) -> tuple[str, str, datetime, datetime]:
    item = session.get(RequestItem, export.item_id)
    assert item is not None
    return item.camera.name, item.camera.location, item.window_start_at, item.window_end_at


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
