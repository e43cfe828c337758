"""From finished exports to a purged delivery: package, local link, BAST, signed scan, purge.

Real commits on both engines, real files, the real simulator's footage, a controllable clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.models import Role
from app.cameras.models import NvrVendor
from app.clock import FrozenClock
from app.db import unit_of_work
from app.delivery import purge
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryLink, DeliveryState
from app.demo import NvrEndpoint, sample_request, seed
from app.deps import SESSION_COOKIE
from app.exports import pipeline
from app.handover.models import Handover
from app.main import create_app
from app.requests.models import EvidenceRequest
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from custody import ledger
from custody.package_verify import verify_package
from nvr_adapters import RecordingNotFound
from nvr_sim import NvrSimulator
from tests.app.factories import bearer, pdf_bytes, scan_pdf_bytes, walk_runtime_to_export_step
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator"]


@pytest.fixture
def world(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime
) -> Iterator[dict[str, Any]]:
    yield from _world(fresh_database_url, tmp_path, simulator, anchor, quiet_second=False)


@pytest.fixture
def world_with_a_quiet_camera(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime
) -> Iterator[dict[str, Any]]:
    """The second item asks the motion camera for anchor +31 s to +39 s, when it recorded nothing:
    its export fails (RecordingNotFound) and the export step closes with one clip."""
    yield from _world(fresh_database_url, tmp_path, simulator, anchor, quiet_second=True)


def _world(
    database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime,
    *, quiet_second: bool,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://",
        public_url="https://saksi.example.go.id", _env_file=None,
    )  # fmt: skip
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    runtime = build_runtime(settings, clock=clock)
    ends = simulator.endpoints
    endpoint = NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER, PASSWORD,
                           vendor=NvrVendor.ONVIF)  # fmt: skip
    demo = seed(runtime, endpoint)
    demo.camera_ids = demo.camera_ids[:2]  # camera 2 is motion-only: a gap at anchor + 30 s
    request_id = sample_request(
        runtime, demo, (anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
    )
    if quiet_second:
        with unit_of_work(runtime.sessions) as session:
            request = session.get(EvidenceRequest, request_id)
            assert request is not None
            request.items[1].window_start_at = anchor + timedelta(seconds=31)
            request.items[1].window_end_at = anchor + timedelta(seconds=39)
    walk_runtime_to_export_step(runtime, request_id)
    with TestClient(create_app(runtime)) as client:
        headers = bearer(runtime, Role.OPERATOR)
        started = client.post(f"/api/v1/requests/{request_id}/exports", headers=headers)
        for export in started.json():
            with contextlib.suppress(RecordingNotFound):  # on record as the export's failure
                pipeline.run(runtime, export["id"], "test-worker")
        done = client.post(f"/api/v1/requests/{request_id}/complete", json={}, headers=headers)
        assert done.status_code == 200, done.text
        yield {"runtime": runtime, "client": client, "id": request_id, "clock": clock, "h": headers}
    runtime.close()
    set_current(None)


def _deliver(world: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    client, rid, headers = world["client"], world["id"], world["h"]
    package = client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    assert package.status_code == 201, package.text
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers)
    assert started.status_code == 202, started.text
    delivery_service.perform(world["runtime"], started.json()["id"])  # the queued job
    return package.json(), started.json()


def _actions(runtime: Runtime, request_id: int) -> list[str]:
    with runtime.sessions() as session:
        return [e.action for e in ledger.read(session.connection(), request_id)]


def test_package_link_bast_and_signed_scan(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    client, rid, headers = world["client"], world["id"], world["h"]
    package, started = _deliver(world)
    data_dir = runtime.settings.data_dir

    # The package verifies offline, pinned to the office key the service publishes.
    zip_path = data_dir / "packages" / f"SKS-2026-{rid:05d}.zip"
    assert hashlib.sha256(zip_path.read_bytes()).hexdigest() == package["zip_sha256"]
    published = client.get("/api/v1/custody/public-key").json()["minisign"]
    report = verify_package(zip_path, office_public_key=published)
    assert report.ok, report.findings
    assert [c["exhibit"] for c in package["clips"]] == [f"SKS-2026-{rid:05d}/1",
                                                        f"SKS-2026-{rid:05d}/2"]  # fmt: skip

    # The link works without login, serves the verified ZIP, and its access is recorded.
    link = started["link"]
    assert link.startswith("https://saksi.example.go.id/unduh/")
    path = link.removeprefix("https://saksi.example.go.id")
    page = client.get(path)
    assert page.status_code == 200
    assert package["zip_sha256"] in page.text
    assert "sha256sum -c SHA256SUMS" in page.text
    part = client.get(f"{path}/{zip_path.name}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == zip_path.read_bytes()[:100]
    whole = client.get(f"{path}/{zip_path.name}")
    assert hashlib.sha256(whole.content).hexdigest() == package["zip_sha256"]
    with runtime.sessions() as session:
        stored = session.scalars(select(DeliveryLink)).one()
        assert stored.token_hash == hashlib.sha256(link.rsplit("/", 1)[1].encode()).hexdigest()
        assert stored.downloads == 2

    bast = client.post(f"/api/v1/requests/{rid}/bast", headers=headers)
    assert bast.status_code == 201, bast.text
    assert bast.json()["number"] == "001/BAST/2026"
    pdf = client.get(f"/api/v1/requests/{rid}/bast.pdf", headers=headers)
    assert hashlib.sha256(pdf.content).hexdigest() == bast.json()["pdf_sha256"]
    text = _pdf_text(pdf.content)
    assert "001/BAST/2026" in text
    assert "dua ribu dua puluh enam" in text
    for clip in package["clips"]:
        assert clip["sha256"] in text.replace("\n", "").replace(" ", "")
    # Issue 20: the package's receipts and the BAST name different checkpoints; the BAST says
    # which is which and where the proof that they are consistent is.
    flat = " ".join(text.split())
    with runtime.sessions() as session:
        note = session.scalars(select(Handover.checkpoint)).one()
    assert note is not None
    later = note.split("\n")[1]
    assert f"Paket barang bukti memuat checkpoint berukuran {package['checkpoint_size']}" in flat
    assert f"consistency?first={package['checkpoint_size']}&second={later}" in flat.replace(" ", "")
    proof = client.get(f"/api/v1/custody/consistency?first={package['checkpoint_size']}"
                       f"&second={later}")  # fmt: skip
    assert proof.status_code == 200

    def upload(content: bytes) -> httpx.Response:
        return client.post(
            f"/api/v1/requests/{rid}/bast/signed-scan", headers=headers,
            files={"scan": ("bast-ttd.pdf", io.BytesIO(content), "application/pdf")},
        )  # fmt: skip

    # Issue 20: the generated, unsigned PDF was accepted as the signed scan; so was any PDF.
    unsigned, typed = upload(pdf.content), upload(pdf_bytes("BAST"))
    assert (unsigned.status_code, unsigned.json()["error"]) == (422, "ScanIsTheGeneratedBast")
    assert (typed.status_code, typed.json()["error"]) == (422, "ScanNotSigned")
    scanned = scan_pdf_bytes()  # (once: Pillow stamps the PDF with the time it is made)
    scan = upload(scanned)
    assert scan.status_code == 200, scan.text
    assert scan.json()["signed_scan_sha256"] == hashlib.sha256(scanned).hexdigest()
    request = client.get(f"/api/v1/requests/{rid}", headers=headers).json()
    assert request["current_step"]["number"] == 8  # the handover step is closed by the signed scan
    actions = _actions(runtime, rid)
    for action in ("package.built", "delivery.upload_started", "delivery.upload_completed",
                   "delivery.shared", "delivery.accessed", "handover.issued",
                   "handover.signed_scan"):  # fmt: skip
        assert action in actions
    # The Range request and the whole download are one download session: one access event.
    assert actions.count("delivery.accessed") == 1


def _pdf_text(content: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content,
                          capture_output=True, check=True)  # fmt: skip
    return done.stdout.decode()


def test_purge_at_day_14_not_before_after_downtime_and_idempotent(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    clock: FrozenClock = world["clock"]
    client, rid = world["client"], world["id"]
    _package, started = _deliver(world)
    path = started["link"].removeprefix("https://saksi.example.go.id")
    delivered_dir = runtime.settings.data_dir / "deliveries" / f"SKS-2026-{rid:05d}"
    assert any(delivered_dir.iterdir())

    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert purge.purge_due(runtime, clock.now()).due == []  # not a second early
    assert client.get(path).status_code == 200

    clock.advance(timedelta(days=3))  # the service was down when the day came: it catches up
    alert = client.get("/api/v1/deliveries/purge-status", headers=world["h"]).json()
    assert alert["alert"] is True
    assert client.get("/readyz").json()["status"] == "degraded"
    report = purge.purge_due(runtime, clock.now())
    again = purge.purge_due(runtime, clock.now())

    assert report.purged == [started["id"]]
    assert report.failed == {}
    assert again.due == []  # nothing left to do
    assert not delivered_dir.exists()
    assert client.get(path).status_code == 410  # the link is dead too
    assert client.get("/readyz").json()["status"] == "ready"
    with runtime.sessions() as session:
        delivery = session.get(Delivery, started["id"])
        assert delivery is not None
        assert delivery.state is DeliveryState.PURGED
        record = runtime.settings.data_dir / str(delivery.destruction_path)
        assert hashlib.sha256(record.read_bytes()).hexdigest() == delivery.destruction_sha256
    assert "BERITA ACARA PEMUSNAHAN" in _pdf_text(record.read_bytes()).upper()
    actions = _actions(runtime, rid)
    assert actions.count("delivery.purged") == 1
    assert actions.count("destruction.recorded") == 1


def test_a_revoked_link_serves_nothing_and_is_still_purged(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    client = world["client"]
    _package, started = _deliver(world)
    path = started["link"].removeprefix("https://saksi.example.go.id")

    revoked = client.post(f"/api/v1/deliveries/{started['id']}/revoke", headers=world["h"])

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    assert client.get(path).status_code == 410
    world["clock"].advance(timedelta(days=15))
    assert purge.purge_due(runtime, world["clock"].now()).purged == [started["id"]]


def test_staff_revoke_a_link_from_the_request_page(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    client, rid = world["client"], world["id"]
    _package, started = _deliver(world)
    path = started["link"].removeprefix("https://saksi.example.go.id")

    def sign_in(role: Role) -> str:
        token = bearer(runtime, role)["Authorization"].removeprefix("Bearer ")
        client.cookies.set(SESSION_COOKIE, token)
        page = client.get("/permintaan/baru")  # a form every signed-in role that files has
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    agency_csrf = sign_in(Role.PEMOHON)
    assert "Cabut akses" not in client.get(f"/permintaan/{rid}").text
    refused = client.post(f"/permintaan/{rid}/cabut/{started['id']}", data={"csrf": agency_csrf})
    csrf = sign_in(Role.OPERATOR)
    assert "Cabut akses penerima sekarang" in client.get(f"/permintaan/{rid}").text
    revoked = client.post(
        f"/permintaan/{rid}/cabut/{started['id']}", data={"csrf": csrf}, follow_redirects=False
    )
    client.cookies.clear()

    assert refused.status_code == 403
    assert revoked.status_code == 303
    state = client.get(f"/api/v1/deliveries/{started['id']}", headers=world["h"]).json()["state"]
    assert state == "revoked"
    assert client.get(path).status_code == 410


def test_saksi_purge_dry_run_lists_without_deleting(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    _package, started = _deliver(world)
    later = (runtime.clock.now() + timedelta(days=15)).isoformat()
    env = {"SAKSI_DATA_DIR": str(runtime.settings.data_dir),
           "SAKSI_DATABASE_URL": runtime.settings.resolved_database_url,
           "SAKSI_QUEUE_URL": "memory://", "PATH": "/usr/bin:/bin"}  # fmt: skip
    argv = [sys.executable, "-m", "app.cli", "purge", "--now", later]

    dry = subprocess.run([*argv, "--dry-run"], env=env, capture_output=True, text=True, check=False)
    real = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)

    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout.splitlines()[-1])["due"] == [started["id"]]
    assert json.loads(dry.stdout.splitlines()[-1])["purged"] == []
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout.splitlines()[-1])["purged"] == [started["id"]]
    with runtime.sessions() as session:
        delivery = session.get(Delivery, started["id"])
        assert delivery is not None
        assert delivery.state is DeliveryState.PURGED


def test_handover_refused_before_the_handover_step_and_to_others(world: dict[str, Any]) -> None:
    client, rid = world["client"], world["id"]
    auditor = bearer(world["runtime"], Role.AUDITOR)
    refused = client.post(f"/api/v1/requests/{rid}/package", headers=auditor)
    bast_first = client.post(f"/api/v1/requests/{rid}/bast", headers=world["h"])
    deliver_first = client.post(f"/api/v1/requests/{rid}/deliveries", headers=world["h"])

    assert refused.status_code == 403
    assert bast_first.status_code == 409
    assert deliver_first.status_code == 409
    assert deliver_first.json()["detail"].startswith("build the evidence package")


def test_the_bast_qr_page_shows_hashes_and_no_names(
    world: dict[str, Any], simulator: NvrSimulator
) -> None:
    client, rid = world["client"], world["id"]
    package, _started = _deliver(world)
    bast = client.post(f"/api/v1/requests/{rid}/bast", headers=world["h"]).json()

    page = client.get("/verifikasi/bast/" + bast["number"].replace("/", "%2F"))
    missing = client.get("/verifikasi/bast/999%2FBAST%2F2026")

    assert page.status_code == 200
    assert bast["pdf_sha256"] in page.text
    for clip in package["clips"]:
        assert clip["sha256"] in page.text
    # Each clip's stream hash with the FFmpeg command of VERIFIKASI.txt (issue 20, build 2).
    built: Path = world["runtime"].settings.data_dir / "packages" / f"SKS-2026-{rid:05d}"
    manifest = json.loads((built / "manifest.json").read_text())
    for clip in manifest["clips"]:
        assert clip["elementary_stream"]["sha256"] in page.text
        assert f"<code>{clip['elementary_stream']['command']}</code>" in page.text
        # And what the export did to the NVR: its calls, none changing a setting; its MAC.
        assert "ONVIF GetReplayUri" in clip["device_access"]["operations"]
        assert clip["device_access"]["settings_changed"] == []
        assert clip["mac_addresses"]["nvr"]["address"] == simulator.config.mac
    assert "Andi Wijaya" not in page.text  # the recipient's name is not public
    assert "Budi Santoso" not in page.text
    assert missing.status_code == 404


def test_an_item_without_footage_is_accounted_for_in_package_and_bast(
    world_with_a_quiet_camera: dict[str, Any],
) -> None:
    """A requested camera that had nothing to give is not left out: the manifest, VERIFIKASI.txt
    and the BAST name it with the reason, and the ledger records it with the package."""
    world = world_with_a_quiet_camera
    runtime: Runtime = world["runtime"]
    client, rid, headers = world["client"], world["id"], world["h"]
    package, started = _deliver(world)
    number = f"SKS-2026-{rid:05d}"

    assert [c["exhibit"] for c in package["clips"]] == [f"{number}/1"]
    [missing] = package["unavailable"]
    assert missing["exhibit"] == f"{number}/2"
    assert missing["reason_code"] == "RecordingNotFound"
    assert missing["reason"] == "Tidak ada rekaman pada rentang waktu ini"

    zip_path = runtime.settings.data_dir / "packages" / f"{number}.zip"
    report = verify_package(zip_path)
    assert report.ok  # the signed manifest carries the list
    assert report.unavailable == [f"{number}/2: Tidak ada rekaman pada rentang waktu ini"]
    with zipfile.ZipFile(zip_path) as archive:
        manifest = json.loads(archive.read(f"{number}/manifest.json"))
        guide = archive.read(f"{number}/VERIFIKASI.txt").decode()
    assert manifest["unavailable"] == package["unavailable"]
    assert "Rekaman yang diminta tetapi tidak ada dalam paket ini" in guide
    assert f"{number}/2" in guide
    assert "Tidak ada rekaman pada rentang waktu ini" in guide
    with runtime.sessions() as session:
        [built] = [e for e in ledger.read(session.connection(), rid) if e.action == "package.built"]
    assert json.loads(built.canonical)["object"]["unavailable"] == [f"{number}/2"]

    assert client.post(f"/api/v1/requests/{rid}/bast", headers=headers).status_code == 201
    word = client.get(f"/api/v1/requests/{rid}/bast.docx", headers=headers).content
    table = docx.Document(io.BytesIO(word)).tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows[1:]]
    assert [row[0] for row in rows] == ["1", "2"]  # every item of the letter, in its order
    assert rows[0][5] == f"Barang bukti {number}/1"
    assert rows[1][3].startswith("Kamera 2")
    assert rows[1][4:] == [
        "-",
        "Tidak ada rekaman yang diserahkan. Tidak ada rekaman pada rentang waktu ini.",
    ]
    pdf = client.get(f"/api/v1/requests/{rid}/bast.pdf", headers=headers).content
    flat = " ".join(_pdf_text(pdf).split())
    assert (
        flat.index(f"{number}/1") < flat.index("Tidak ada rekaman yang") < flat.index("1. Rekaman")
    )
    bast = client.get(f"/api/v1/requests/{rid}/bast", headers=headers).json()
    page = client.get(f"/verifikasi/bast/{bast['number']}").text
    [line] = re.findall(rf"<li><strong>{re.escape(number)}/2</strong> · (.*?) · ", page)
    assert line.endswith(" — Kamera 2")  # one camera name in every table (issue 19)
