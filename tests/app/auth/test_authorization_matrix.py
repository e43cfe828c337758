"""The authorisation matrix: every route × every role, and nobody, against one table.

The table is written by hand from the SOP and the roles (README, ARCHITECTURE "Who uses it"); it is
not derived from the code under test. Every route of the OpenAPI schema and every route the web UI
serves (its pages and forms are left out of the schema) must have a row, and every row a route: a
new route fails here until someone writes down who may call it.

Each cell is sent to one app over one small world (tests/app/factories.py), inside a savepoint
rolled back after it, so no cell sees what another one did. A cell reads:

    +  past authorisation: 2xx or 3xx, or the route's own 404/409/422 (the state, not the role)
    U  401: no or bad credentials (the API)
    L  303 to /masuk: no session (the web UI); signing out (/keluar) sends everyone there
    F  403: the role, the agency or the assignment refuses it

Columns: n nobody · a admin · D kepala_dinas · S sekretaris · B kepala_bidang · s subkoordinator
· o the operator assigned to the request · O another operator · u auditor · p pemohon of the
request's agency · P pemohon of another agency.

Column `at` names the request a `{request_id}` stands for: the one at SOP step 2 (Kepala Dinas
disposes), 5 (the subkoordinator assigns), 6 (export, operator `o` assigned) or 7 (handover, with a
shared local delivery). `{export_id}` is the step-6 request's export (failed, so its progress
stream ends); `{delivery_id}`, `{token}` and `{file_name}` are the step-7 request's delivery, its
link and its file. What today's code answers and this table keeps:

- another agency's request is 403 (`NotYourAgency`), not 404: the id's existence is visible;
- the request's custody events (`GET …/custody`) are the pemohon's to read over the API, as its
  deliveries and BAST are (the web page shows them to staff only);
- any operator, assigned or not, takes preservation copies (README: "any operator may take a
  preservation copy at once"); any office staff but the auditor asks the NVRs again and revokes a
  link;
- an auditor reads everything staff read and writes one thing: the ledger verification
  (`POST /audit/periksa`, itself a custody event).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette's TestClient answers with
from sqlalchemy import Connection
from starlette.requests import Request

from app.agencies.models import Agency
from app.auth.models import Role, User
from app.cameras.models import Camera
from app.delivery.backends import local_backend
from app.delivery.models import Delivery, DeliveryLink, DeliveryState
from app.delivery.service import container_name
from app.deps import SESSION_COOKIE
from app.exports import service as exports_service
from app.exports.models import ExportState
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.security import issue_token
from app.sop import service as sop_service
from app.web.session import csrf_token
from custody import ledger
from drive_sync import hash_token
from tests.app.factories import (
    PASSWORD,
    Factory,
    multipart,
    request_payload,
    scan_pdf_bytes,
)

PRINCIPALS = (
    "nobody", "admin", "kepala_dinas", "sekretaris", "kepala_bidang", "subkoordinator",
    "operator", "other_operator", "auditor", "pemohon", "other_pemohon",
)  # fmt: skip
HEADER = "n a D S B s o O u p P"
ANSWERS = {"+": "ok", "U": "401", "L": "login", "F": "403"}

# fmt: off
MATRIX = """
method path                                                     at   n a D S B s o O u p P
GET    /healthz                                                 -    + + + + + + + + + + +
GET    /readyz                                                  -    + + + + + + + + + + +
GET    /openapi.json                                            -    + + + + + + + + + + +
GET    /docs                                                    -    + + + + + + + + + + +
GET    /docs/oauth2-redirect                                    -    + + + + + + + + + + +
GET    /redoc                                                   -    + + + + + + + + + + +
POST   /api/v1/auth/token                                       -    + + + + + + + + + + +
GET    /api/v1/auth/me                                          -    U + + + + + + + + + +
PATCH  /api/v1/auth/me                                          -    U + + + + + + + F + +
POST   /api/v1/auth/logout                                      -    U + + + + + + + + + +
GET    /api/v1/auth/lockouts                                    -    U + F F F F F F F F F
GET    /api/v1/notifications                                    -    U + F F F F F F F F F
GET    /api/v1/users                                            -    U + + + + + + + + F F
POST   /api/v1/users                                            -    U + F F F F F F F F F
PATCH  /api/v1/users/{user_id}                                  -    U + F F F F F F F F F
GET    /api/v1/agencies                                         -    U + + + + + + + + + +
POST   /api/v1/agencies                                         -    U + F F F F F F F F F
GET    /api/v1/agencies/{agency_id}                             -    U + + + + + + + + + +
PATCH  /api/v1/agencies/{agency_id}                             -    U + F F F F F F F F F
GET    /api/v1/nvrs                                             -    U + + + + + + + + F F
POST   /api/v1/nvrs                                             -    U + F F F F F F F F F
GET    /api/v1/nvrs/{nvr_id}                                    -    U + + + + + + + + F F
PATCH  /api/v1/nvrs/{nvr_id}                                    -    U + F F F F F F F F F
POST   /api/v1/nvrs/{nvr_id}/probe                              -    U + F F F F F F F F F
GET    /api/v1/cameras                                          -    U + + + + + + + + + +
POST   /api/v1/cameras                                          -    U + F F F F F F F F F
GET    /api/v1/cameras/{camera_id}                              -    U + + + + + + + + + +
PATCH  /api/v1/cameras/{camera_id}                              -    U + F F F F F F F F F
GET    /api/v1/requests                                         -    U + + + + + + + + + +
POST   /api/v1/requests                                         -    U F F F F F + + F + F
GET    /api/v1/requests/{request_id}                            s7   U + + + + + + + + + F
GET    /api/v1/requests/{request_id}/letter                     s7   U + + + + + + + + + F
POST   /api/v1/requests/{request_id}/preservation-check         s2   U + + + + + + + F F F
GET    /api/v1/sop                                              -    U + + + + + + + + + +
GET    /api/v1/sop/overdue                                      -    U + + + + + + + + F F
POST   /api/v1/requests/{request_id}/dispose                    s2   U F + F F F F F F F F
POST   /api/v1/requests/{request_id}/assign                     s5   U F F F F + F F F F F
POST   /api/v1/requests/{request_id}/complete                   s6   U F F F F F + F F F F
POST   /api/v1/requests/{request_id}/return                     s7   U F F F F F + F F F F
GET    /api/v1/requests/{request_id}/exports                    s6   U + + + + + + + + F F
POST   /api/v1/requests/{request_id}/exports                    s6   U F F F F F + F F F F
POST   /api/v1/requests/{request_id}/preservation-exports       s6   U F F F F F + + F F F
GET    /api/v1/exports/{export_id}                              -    U + + + + + + + + F F
GET    /api/v1/exports/{export_id}/contact-sheet                -    U + + + + + + + + F F
GET    /api/v1/exports/{export_id}/clip                         -    U + + + + + + + + F F
GET    /api/v1/exports/{export_id}/events                       -    U + + + + + + + + F F
GET    /api/v1/requests/{request_id}/custody                    s7   U + + + + + + + + + F
GET    /api/v1/requests/{request_id}/custody.jsonld             s7   U + + + + + + + + F F
GET    /api/v1/custody/office-events                            -    U + F F F F F F + F F
GET    /api/v1/custody/checkpoint                               -    + + + + + + + + + + +
GET    /api/v1/custody/public-key                               -    + + + + + + + + + + +
GET    /api/v1/custody/proof                                    -    + + + + + + + + + + +
GET    /api/v1/custody/consistency                              -    + + + + + + + + + + +
GET    /api/v1/verify/{sha256}                                  -    + + + + + + + + + + +
POST   /api/v1/witness/add-checkpoint                           -    + + + + + + + + + + +
GET    /api/v1/witness/public-key                               -    + + + + + + + + + + +
POST   /api/v1/requests/{request_id}/package                    s7   U F F F F F + F F F F
GET    /api/v1/requests/{request_id}/package                    s7   U + + + + + + + + + F
GET    /api/v1/requests/{request_id}/package.zip                s7   U + + + + + + + + F F
POST   /api/v1/requests/{request_id}/deliveries                 s7   U F F F F F + F F F F
GET    /api/v1/requests/{request_id}/deliveries                 s7   U + + + + + + + + + F
GET    /api/v1/deliveries/purge-status                          -    U + + + + + + + + F F
GET    /api/v1/deliveries/{delivery_id}                         -    U + + + + + + + + + F
POST   /api/v1/deliveries/{delivery_id}/revoke                  -    U + + + + + + + F F F
POST   /api/v1/requests/{request_id}/bast                       s7   U F F F F F + F F F F
GET    /api/v1/requests/{request_id}/bast                       s7   U + + + + + + + + + F
GET    /api/v1/requests/{request_id}/bast.pdf                   s7   U + + + + + + + + + F
GET    /api/v1/requests/{request_id}/bast.docx                  s7   U + + + + + + + + F F
POST   /api/v1/requests/{request_id}/bast/signed-scan           s7   U F F F F F + F F F F
POST   /api/v1/requests/{request_id}/bast/signatures            s7   U F F F F F + + F F F
GET    /api/v1/requests/{request_id}/bast/esigned.pdf           s7   U + + + + + + + + + F
POST   /api/v1/deliveries/{delivery_id}/destruction/signatures  -    U F F F F F + + F F F
GET    /api/v1/deliveries/{delivery_id}/destruction/esigned.pdf -    U + + + + + + + + F F
GET    /api/v1/reports/register.csv                             -    U + + + + + + + + F F
GET    /api/v1/reports/register.xlsx                            -    U + + + + + + + + F F
GET    /api/v1/reports/monthly                                  -    U + + + + + + + + F F
GET    /verifikasi                                              -    + + + + + + + + + + +
GET    /verifikasi/bast/{number:path}                           -    + + + + + + + + + + +
GET    /unduh/{token}                                           -    + + + + + + + + + + +
GET    /unduh/{token}/{file_name}                               -    + + + + + + + + + + +
GET    /masuk                                                   -    + + + + + + + + + + +
POST   /masuk                                                   -    + + + + + + + + + + +
POST   /keluar                                                  -    L L L L L L L L L L L
GET    /                                                        -    L + + + + + + + + + +
GET    /permintaan/baru                                         -    L F F F F F + + F + +
POST   /permintaan/baru                                         -    L F F F F F + + F + F
GET    /permintaan/{request_id}                                 s7   L + + + + + + + + + F
GET    /permintaan/{request_id}/cetak                           s7   L + + + + + + + + F F
POST   /permintaan/{request_id}/tindakan                        s2   L F + F F F F F F F F
POST   /permintaan/{request_id}/periksa-nvr                     s2   L + + + + + + + F F F
POST   /permintaan/{request_id}/pengamanan                      s6   L F F F F F + + F F F
POST   /permintaan/{request_id}/ekspor                          s6   L F F F F F + F F F F
POST   /permintaan/{request_id}/paket                           s7   L F F F F F + F F F F
POST   /permintaan/{request_id}/serahkan                        s7   L F F F F F + F F F F
POST   /permintaan/{request_id}/cabut/{delivery_id}             s7   L + + + + + + + F F F
POST   /permintaan/{request_id}/bast                            s7   L F F F F F + F F F F
POST   /permintaan/{request_id}/bast-ttd                        s7   L F F F F F + F F F F
POST   /permintaan/{request_id}/bast-tte                        s7   L F F F F F + + F F F
POST   /permintaan/{request_id}/bast-setuju                     s7   L F F F F F F F F + F
POST   /permintaan/{request_id}/pemusnahan/{delivery_id}/tte    s7   L F F F F F + + F F F
GET    /permintaan/{request_id}/unduh/{delivery_id}/{file_name} s7   L + + + + + + + + + F
GET    /admin                                                   -    L + F F F F F F F F F
POST   /admin/instansi                                          -    L + F F F F F F F F F
POST   /admin/instansi/{agency_id}/status                       -    L + F F F F F F F F F
POST   /admin/nvr                                               -    L + F F F F F F F F F
POST   /admin/nvr/{nvr_id}                                      -    L + F F F F F F F F F
POST   /admin/nvr/{nvr_id}/uji                                  -    L + F F F F F F F F F
POST   /admin/kamera                                            -    L + F F F F F F F F F
POST   /admin/kamera/{camera_id}/status                         -    L + F F F F F F F F F
POST   /admin/pengguna                                          -    L + F F F F F F F F F
POST   /admin/pengguna/{user_id}/status                         -    L + F F F F F F F F F
POST   /admin/pengguna/{user_id}/sandi                          -    L + F F F F F F F F F
GET    /audit                                                   -    L + F F F F F F + F F
GET    /profil                                                  -    L + + + + + + + + + +
POST   /profil                                                  -    L + + + + + + + F + +
POST   /audit/periksa                                           -    L + F F F F F F + F F
"""
# fmt: on


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    at: str
    expected: dict[str, str]

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


def _rows() -> dict[str, Row]:
    header, *lines = [line for line in MATRIX.splitlines() if line.strip()]
    assert header.split()[3:] == HEADER.split(), "the columns are n a D S B s o O u p P"
    rows: dict[str, Row] = {}
    for line in lines:
        method, path, at, *cells = line.split()
        assert len(cells) == len(PRINCIPALS), line
        assert (at != "-") == ("{request_id}" in path), f"{line}: `at` names the request"
        row = Row(method, path, at, {p: ANSWERS[c] for p, c in zip(PRINCIPALS, cells, strict=True)})
        assert row.route not in rows, f"{row.route} has two rows"
        rows[row.route] = row
    return rows


ROWS = _rows()


def served_routes(app: FastAPI) -> set[str]:
    """`METHOD /path` of every operation in the OpenAPI schema and of every route left out of it
    (the web UI, the API documentation); `/static`, a mounted directory, has no methods."""
    schema = app.openapi()["paths"]
    routes = {f"{method.upper()} {path}" for path, item in schema.items() for method in item}
    for context in iter_route_contexts(app.routes):
        if context.methods and not getattr(context, "include_in_schema", True):
            # HEAD is the GET route's own answer without its body, never a route of its own.
            routes |= {f"{method} {context.path}" for method in context.methods - {"HEAD"}}
    return routes


def test_every_route_has_a_row_and_every_row_a_route(client: TestClient) -> None:
    assert isinstance(client.app, FastAPI)
    served = served_routes(client.app)

    assert sorted(served - ROWS.keys()) == [], "routes without a row in MATRIX"
    assert sorted(ROWS.keys() - served) == [], "rows of MATRIX naming no route"


CLOSED_PORT = 9  # discard: nothing listens there, so an NVR probe fails at once
SIGNED_SCAN = {"scan": ("bast-ttd.pdf", scan_pdf_bytes(), "application/pdf")}


@dataclass
class World:
    """What the path parameters name, and each principal's credential."""

    params: dict[str, str]
    requests: dict[str, int]
    tokens: dict[str, str]
    csrf: dict[str, str]
    inputs: dict[str, dict[str, Any]]


def _people(factory: Factory, agency: Agency, other: Agency) -> dict[str, User]:
    people = {role.value: factory.user(role) for role in Role if role is not Role.PEMOHON}
    people["other_operator"] = factory.user(Role.OPERATOR)
    people["pemohon"] = factory.user(Role.PEMOHON, agency=agency)
    people["other_pemohon"] = factory.user(Role.PEMOHON, agency=other)
    return people


def _token(runtime: Runtime, user: User) -> str:
    return issue_token(
        runtime.token_key, user.id, user.role.value, runtime.clock.now(), timedelta(hours=1)
    )


def _csrf(runtime: Runtime, token: str) -> str:
    """The form token the web UI puts in the pages of the session `token`."""
    cookie = f"{SESSION_COOKIE}={token}".encode()
    return csrf_token(runtime, Request({"type": "http", "headers": [(b"cookie", cookie)]}))


def _request_at(
    factory: Factory, people: dict[str, User], payload: dict[str, Any], step: int
) -> int:
    """File a request over the API as the pemohon, then walk it to `step` through the SOP."""
    headers = {"Authorization": f"Bearer {_token(factory.runtime, people['pemohon'])}"}
    response = factory.client.post("/api/v1/requests", headers=headers, **multipart(payload))
    assert response.status_code == 201, response.text
    sop, session = factory.runtime.sop, factory.session
    request = session.get_one(EvidenceRequest, response.json()["id"])
    while request.current_step < step:
        current = sop.step(request.current_step)
        sop_service.perform(
            session, sop, request, people[current.roles[0].value], frozenset({current.action}),
            factory.now, operator=people["operator"],
        )  # fmt: skip
    session.commit()
    return request.id


def _failed_export(factory: Factory, operator: User, request_id: int) -> int:
    """An export of the request at its export step, ended (so its progress stream ends too)."""
    session = factory.session
    request = session.get_one(EvidenceRequest, request_id)
    sop = factory.runtime.sop
    [export] = exports_service.start_exports(session, sop, request, operator, factory.now)
    export.state, export.error_code = ExportState.FAILED, "RecordingNotFound"
    export.error_detail = "PLAY: nothing in that range (404)"
    session.commit()
    return export.id


def _shared_delivery(factory: Factory, operator: User, request_id: int) -> tuple[int, str, str]:
    """A local delivery of the request, shared: its link, its one file on disk."""
    session, now = factory.session, factory.now
    request = session.get_one(EvidenceRequest, request_id)
    container, name, body = container_name(request), "rekaman.mp4", b"\x00\x00\x00\x18ftyp"
    folder = local_backend(factory.runtime).root / container
    folder.mkdir(parents=True)
    (folder / name).write_bytes(body)
    due = now + timedelta(days=14)
    delivery = Delivery(
        request_id=request.id, method="local", state=DeliveryState.SHARED,
        recipient=request.recipient_email, container_id=container,
        files=[{"name": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}],
        file_ids=[], permission_ids=[], created_at=now, created_by_id=operator.id,
        shared_at=now, expires_at=due, purge_due_at=due, purge_attempts=0,
    )  # fmt: skip
    session.add(delivery)
    session.flush()
    token = "tautan-matriks-penerima"
    session.add(DeliveryLink(
        token_hash=hash_token(token), delivery_id=delivery.id, container_id=container,
        recipient=delivery.recipient, created_at=now, expires_at=due, downloads=0,
    ))  # fmt: skip
    session.commit()
    return delivery.id, token, name


def _world(factory: Factory) -> World:
    """Four requests of one agency (at steps 2, 5, 6 and 7), a failed export, a shared delivery,
    and the people of the matrix's columns."""
    agency, other = factory.agency(), factory.agency("Kejaksaan Negeri Kabupaten Cirebon")
    people = _people(factory, agency, other)
    nvr = factory.nvr()
    nvr.http_port = nvr.rtsp_port = CLOSED_PORT
    camera = factory.camera(nvr)
    requests = {
        f"s{step}": _request_at(factory, people, request_payload(
            agency, [camera], factory.now, letter_number=f"B/{step}/XI/2026/Reskrim"), step)
        for step in (2, 5, 6, 7)
    }  # fmt: skip
    delivery, token, file_name = _shared_delivery(factory, people["operator"], requests["s7"])
    params = {
        "user_id": people["other_operator"].id, "agency_id": agency.id, "nvr_id": nvr.id,
        "camera_id": camera.id,
        "export_id": _failed_export(factory, people["operator"], requests["s6"]),
        "delivery_id": delivery, "token": token, "file_name": file_name,
        "number": "001/BAST/2026", "sha256": "ab" * 32,
    }  # fmt: skip
    tokens = {name: _token(factory.runtime, user) for name, user in people.items()}
    return World(
        params={name: str(value) for name, value in params.items()}, requests=requests,
        tokens=tokens, csrf={name: _csrf(factory.runtime, t) for name, t in tokens.items()},
        inputs=_inputs(factory, people, agency, camera, nvr.id),
    )  # fmt: skip


def _inputs(
    factory: Factory, people: dict[str, User], agency: Agency, camera: Camera, nvr_id: int
) -> dict[str, dict[str, Any]]:
    """What each route is sent besides its credential: a body that would do what it says."""
    new = request_payload(agency, [camera], factory.now, letter_number="B/99/XI/2026/Reskrim")
    login = {"username": people["pemohon"].username, "password": PASSWORD}
    user = {"username": "pengguna-baru", "full_name": "Pengguna Baru", "role": "operator",
            "password": PASSWORD}  # fmt: skip
    nvr = {"name": "NVR Pasar Sumber", "vendor": "hikvision", "host": "nvr-pasar.local",
           "http_port": 80, "rtsp_port": 554, "username": "admin",
           "password": "Rahasia#NVR-2026"}  # fmt: skip
    new_camera = {"name": "Kamera Baru", "location": "Pasar Sumber", "nvr_id": nvr_id,
                  "channel": 9}  # fmt: skip
    return {
        "POST /api/v1/auth/token": {"data": login},
        "POST /api/v1/users": {"json": user},
        "PATCH /api/v1/users/{user_id}": {"json": {"full_name": "Nama Diperbaiki"}},
        "PATCH /api/v1/auth/me": {"json": {"notify_email": False}},
        "POST /profil": {"data": {"email": "profil@example.go.id"}},
        "POST /api/v1/agencies": {"json": {"name": "KPK", "kind": "kpk"}},
        "PATCH /api/v1/agencies/{agency_id}": {"json": {"active": False}},
        "POST /api/v1/nvrs": {"json": nvr},
        "PATCH /api/v1/nvrs/{nvr_id}": {"json": {"name": "NVR Balai Kota Baru"}},
        "POST /api/v1/cameras": {"json": new_camera},
        "PATCH /api/v1/cameras/{camera_id}": {"json": {"active": False}},
        "POST /api/v1/requests": multipart(new),
        "POST /api/v1/requests/{request_id}/dispose": {"json": {"note": "lanjutkan"}},
        "POST /api/v1/requests/{request_id}/assign": {
            "json": {"operator_id": people["operator"].id}
        },
        "POST /api/v1/requests/{request_id}/complete": {"json": {}},
        "POST /api/v1/requests/{request_id}/return": {"json": {"reason": "surat tidak lengkap"}},
        "POST /api/v1/requests/{request_id}/bast/signed-scan": {"files": SIGNED_SCAN},
        # Signing as the operator (Pihak Pertama, Petugas); the recipient approves in the portal.
        "POST /api/v1/requests/{request_id}/bast/signatures": {"json": {"role": "operator"}},
        "POST /api/v1/deliveries/{delivery_id}/destruction/signatures": {
            "json": {"role": "operator"}
        },
        "GET /api/v1/custody/proof": {"params": {"sha256": "ab" * 32}},
        "GET /api/v1/custody/consistency": {"params": {"first": 1, "second": 1}},
        # A well-formed submission from a log this office does not witness: the route's own 404.
        "POST /api/v1/witness/add-checkpoint": {"content": WITNESS_SUBMISSION},
        "GET /api/v1/reports/monthly": {"params": {"month": "2026-11"}},
        "POST /masuk": {"data": login},
        "POST /permintaan/baru": {"data": _form(new), "files": multipart(new)["files"]},
        "POST /permintaan/{request_id}/tindakan": {
            "data": {"action": "dispose", "step": "2", "note": "lanjutkan"}
        },
        "POST /permintaan/{request_id}/bast-ttd": {"files": SIGNED_SCAN},
        "POST /permintaan/{request_id}/bast-tte": {"data": {"role": "operator"}},
        "POST /permintaan/{request_id}/pemusnahan/{delivery_id}/tte": {
            "data": {"role": "operator"}
        },
        "POST /permintaan/{request_id}/bast-setuju": {"data": {"confirmed": "true"}},
        "POST /admin/instansi": {"data": {"name": "KPK", "kind": "kpk"}},
        "POST /admin/nvr": {"data": nvr},
        "POST /admin/nvr/{nvr_id}": {"data": {**nvr, "password": "", "active": "on"}},
        "POST /admin/kamera": {"data": new_camera},
        "POST /admin/pengguna": {"data": user},
        "POST /admin/pengguna/{user_id}/sandi": {"data": {"password": "kata-sandi-baru-2026"}},
    }


WITNESS_SUBMISSION = (
    "old 0\n\nother.example.go.id/log\n1\n" + "A" * 43 + "=\n\n"
    "\u2014 other.example.go.id/log " + "A" * 96 + "\n"
)


def _form(payload: dict[str, Any]) -> dict[str, str]:
    """The new-request form's fields for an API payload."""
    people = {f"{who}_{key}": value for who in ("officer", "recipient")
              for key, value in payload[who].items()}  # fmt: skip
    [item] = payload["items"]
    return {
        **{key: str(payload[key]) for key in ("agency_id", "letter_number", "letter_date",
           "legal_basis", "purpose", "incident", "delivery_method")},
        **people,
        "items-0-camera_id": str(item["camera_id"]), "items-0-start": item["start"],
        "items-0-end": item["end"],
    }  # fmt: skip


def _url(row: Row, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1]
        return str(world.requests[row.at]) if name == "request_id" else world.params[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, row.path)


def _send(client: TestClient, world: World, row: Row, principal: str) -> Response:
    """Send the row's request as `principal`: a bearer token to the API, the session cookie and
    the form's CSRF token to the web UI."""
    inputs = dict(world.inputs.get(row.route, {}))
    headers: dict[str, str] = {}
    token = world.tokens.get(principal)
    api = row.path.startswith("/api/")
    if token is not None:
        headers = {"Authorization": f"Bearer {token}"} if api else {
            "Cookie": f"{SESSION_COOKIE}={token}"}  # fmt: skip
    if not api and row.method == "POST":
        inputs["data"] = {**inputs.get("data", {}), "csrf": world.csrf.get(principal, "")}
    client.cookies.clear()  # a login cell's cookie must not sign in the next cell
    return client.request(row.method, _url(row, world), headers=headers, follow_redirects=False,
                          **inputs)  # fmt: skip


def _answer(response: Response) -> str:
    status = response.status_code
    if status == 303 and response.headers.get("location") == "/masuk":
        return "login"
    if status in (401, 403):
        return str(status)
    if 200 <= status < 400 or status in (404, 409, 422):
        return "ok"
    return str(status)


def _misfit(row: Row, principal: str, response: Response) -> str | None:
    """Say how the answer differs from the table's, or how a refusal left the one envelope."""
    expected, answer = row.expected[principal], _answer(response)
    kind, where = response.headers.get("content-type", ""), response.headers.get("location")
    body = response.text[:160] if kind.startswith("application/json") else kind
    seen = f"{response.status_code} {body}" + (f" → {where}" if where else "")
    if answer != expected:
        return f"{row.route} as {principal}: expected {expected}, got {seen}"
    if row.path.startswith("/api/") and answer in ("401", "403"):
        body = response.json()
        if set(body) != {"error", "detail"}:
            return f"{row.route} as {principal}: a refusal outside the envelope: {seen}"
    return None


def test_every_cell_answers_as_the_table_says(
    factory: Factory, client: TestClient, connection: Connection
) -> None:
    world = _world(factory)
    misfits = []
    for row in ROWS.values():
        for principal in PRINCIPALS:
            cell = connection.begin_nested()
            try:
                response = _send(client, world, row, principal)
            finally:
                cell.rollback()
            misfit = _misfit(row, principal, response)
            if misfit is not None:
                misfits.append(misfit)

    assert not misfits, f"{len(misfits)} cells differ from MATRIX:\n" + "\n".join(misfits)


def _ledger(runtime: Runtime) -> list[bytes]:
    with runtime.sessions() as session:
        return [event.canonical for event in ledger.read(session.connection())]


def test_an_auditor_neither_revokes_a_delivery_nor_asks_the_nvrs(
    factory: Factory, client: TestClient, runtime: Runtime
) -> None:
    """Issue 17: an auditor's token revoked a delivery (200, a custody event by role `auditor`)
    and queued a preservation check (202). Both are refused; nothing is recorded or queued."""
    world = _world(factory)
    auditor = {"Authorization": f"Bearer {world.tokens['auditor']}"}
    delivery, request = world.params["delivery_id"], world.requests["s7"]
    recorded, queued = _ledger(runtime), runtime.queue.waiting("requests.check_preservation")

    revoke = client.post(f"/api/v1/deliveries/{delivery}/revoke", headers=auditor)
    check = client.post(f"/api/v1/requests/{request}/preservation-check", headers=auditor)

    assert (revoke.status_code, check.status_code) == (403, 403)
    assert revoke.json() == {
        "error": "RoleNotPermitted", "detail": "the role 'auditor' may not do this"
    }  # fmt: skip
    assert client.get(f"/api/v1/deliveries/{delivery}", headers=auditor).json()["state"] == "shared"
    assert _ledger(runtime) == recorded
    assert runtime.queue.waiting("requests.check_preservation") == queued


def test_the_request_page_offers_an_auditor_no_form(factory: Factory, client: TestClient) -> None:
    """The auditor was offered *Cabut akses penerima sekarang* and *Periksa ulang rekaman di NVR*;
    the page now offers only what the server would do for them: signing out."""
    world = _world(factory)

    def forms(principal: str, request: str) -> list[str]:
        page = client.get(
            f"/permintaan/{world.requests[request]}",
            headers={"Cookie": f"{SESSION_COOKIE}={world.tokens[principal]}"},
        )
        assert page.status_code == 200
        return re.findall(r'<form method="post" action="([^"]+)"', page.text)

    for request in world.requests:
        assert forms("auditor", request) == ["/keluar"], request
    staff = forms("kepala_dinas", "s7")
    assert f"/permintaan/{world.requests['s7']}/periksa-nvr" in staff
    assert f"/permintaan/{world.requests['s7']}/cabut/{world.params['delivery_id']}" in staff
