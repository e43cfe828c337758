"""The web UI in headless Chromium: every role does its SOP step; bad input is shown, not lost."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from app.auth.models import Role
from app.custody import service as custody_service
from app.db import unit_of_work
from tests.app.factories import pdf_bytes, scan_pdf_bytes
from tests.app.web.conftest import LiveServer, login

WIB = ZoneInfo("Asia/Jakarta")


def _yesterday(hour: int, minute: int = 0) -> str:
    day = datetime.now(WIB) - timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=0).strftime("%Y-%m-%dT%H:%M:%S")


def fill_request(page: Page, letter_number: str, *, start: str, end: str) -> None:
    page.get_by_label("Nomor surat").fill(letter_number)
    page.get_by_label("Tanggal surat").fill(
        (datetime.now(WIB) - timedelta(days=1)).strftime("%Y-%m-%d")
    )
    page.get_by_label("Pindaian surat (PDF)").set_input_files(
        {"name": "surat.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.get_by_label("Dasar hukum").fill("Pasal 184 KUHAP")
    page.get_by_label("Digunakan untuk kepentingan").fill("penyelidikan pencurian sepeda motor")
    page.get_by_label("Kejadian").fill("Pencurian di Simpang Empat Sumber")
    for prefix, legend in (("officer", "Pejabat yang meminta"), ("recipient", "Penerima rekaman")):
        group = page.get_by_role("group", name=re.compile(legend))
        group.get_by_label("Nama").fill(f"Nama {prefix}")
        group.get_by_label("NIP / NRP / NIK").fill("83051234")
        group.get_by_label("Jabatan").fill("Penyidik")
        group.get_by_label("Instansi").fill("Polresta Cirebon")
        group.get_by_label("E-mail").fill(f"{prefix}@polresta.example.go.id")
    page.get_by_label("Lokasi/titik CCTV").select_option(
        label="Simpang Empat Sumber (Jl. Dewi Sartika) — Kamera 1"
    )
    page.get_by_label("Mulai (WIB)").fill(start)
    page.get_by_label("Selesai (WIB)").fill(end)


def act_as(browser: Browser, server: LiveServer, role: Role, request_url: str, button: str) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    login(page, server, role)
    page.goto(request_url)
    if role is Role.SUBKOORDINATOR:
        page.get_by_label("Staf/operator yang ditunjuk").select_option(label="Dewi Lestari, A.Md.")
    page.get_by_label("Catatan / alasan").fill(f"tindak lanjut oleh {role.value}")
    page.get_by_role("button", name=button).click()
    page.wait_for_url(request_url)
    return page


def start_exports(browser: Browser, server: LiveServer, request_url: str) -> None:
    """At the export step the assigned operator starts one export per camera."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    login(page, server, Role.OPERATOR)
    page.goto(request_url)
    page.get_by_role("button", name="Mulai ekspor").click()
    page.wait_for_url(request_url + "#ekspor")
    expect(page.locator("tr[data-export]")).to_have_count(1)
    # Every camera's export has started: nothing left to start.
    expect(page.get_by_role("button", name="Mulai ekspor")).to_have_count(0)
    for _ in range(300):  # the export runs as a job; the row follows it
        page.goto(request_url)
        if page.locator("tr[data-export][data-state=done]").count():
            break
        page.wait_for_timeout(200)
    expect(page.locator("tr[data-export] [data-field=state]")).to_have_text("Selesai")
    expect(page.locator("figure.sheet img")).to_have_count(1)
    if os.environ.get("SAKSI_SCREENSHOTS"):  # the request's own card: cameras, coverage, exports
        page.locator("main section.card").first.screenshot(path="docs/screenshot-request.png")
        page.goto(server.url + "/")
        page.screenshot(path="docs/screenshot-dashboard.png", full_page=False)
    context.close()


def test_every_role_performs_its_step(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    login(page, live_server, Role.PEMOHON)
    page.get_by_role("link", name="Permintaan baru").click()
    fill_request(page, "B/501/XI/2026/Reskrim", start=_yesterday(10), end=_yesterday(10, 10))
    page.get_by_role("button", name="Simpan permintaan").click()
    page.wait_for_url(re.compile(r"/permintaan/\d+$"))
    request_url = page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("SKS-")
    expect(page.locator(".timeline li.current")).to_contain_text(
        "Mendisposisikan kepada Sekretaris"
    )

    steps = [
        (Role.KEPALA_DINAS, "Disposisikan"),
        (Role.SEKRETARIS, "Disposisikan"),
        (Role.KEPALA_BIDANG, "Disposisikan"),
        (Role.SUBKOORDINATOR, "Tunjuk staf"),
    ]
    for number, (role, button) in enumerate(steps, start=2):
        acted = act_as(browser, live_server, role, request_url, button)
        expect(acted.locator(".timeline li").nth(number - 1)).to_have_class("done")
        acted.context.close()

    start_exports(browser, live_server, request_url)  # step 6: the footage, from the NVR
    acted = act_as(browser, live_server, Role.OPERATOR, request_url, "Tandai selesai")
    expect(acted.locator(".timeline li").nth(5)).to_have_class("done")
    acted.context.close()
    hand_over(browser, live_server, request_url)  # step 7: package, link, BAST, signed scan
    acted = act_as(browser, live_server, Role.OPERATOR, request_url, "Tandai selesai")
    acted.context.close()

    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("Selesai")
    expect(page.locator(".timeline li.done")).to_have_count(8)
    expect(page.get_by_text("tindak lanjut oleh kepala_dinas")).to_be_visible()
    agency_downloads(page, live_server, request_url)


def hand_over(browser: Browser, server: LiveServer, request_url: str) -> None:
    """The operator builds the package, delivers it, issues the BAST, uploads the signed scan."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    login(page, server, Role.OPERATOR)
    page.goto(request_url)
    expect(page.get_by_role("button", name="Tandai selesai")).to_have_count(0)
    page.get_by_role("button", name="Buat paket barang bukti").click()
    expect(page.get_by_text("Paket barang bukti", exact=True)).to_be_visible()
    page.get_by_role("button", name="Serahkan paket").click()
    link = page.get_by_label("Tautan unduhan")
    expect(link).to_have_value(re.compile(r"/unduh/[A-Za-z0-9_-]{40,}$"))
    for _ in range(100):  # the copy runs as a job
        page.goto(request_url)
        if page.locator("[data-delivery][data-state=shared]").count():
            break
        page.wait_for_timeout(200)
    page.get_by_role("button", name="Terbitkan BAST").click()
    expect(page.get_by_text(re.compile(r"Nomor \d{3}/BAST/\d{4}"))).to_be_visible()
    page.get_by_label("Pindaian BAST bertanda tangan (PDF)").set_input_files(
        {"name": "bast-ttd.pdf", "mimeType": "application/pdf", "buffer": scan_pdf_bytes()}
    )
    page.get_by_role("button", name="Unggah dan tutup serah terima").click()
    expect(page.locator(".timeline li").nth(6)).to_have_class("done")
    context.close()


def agency_downloads(page: Page, server: LiveServer, request_url: str) -> None:
    """The pemohon's portal: the delivery with its expiry, hashes, how to verify, and the file."""
    expect(page.get_by_text(re.compile(r"berlaku sampai .* \(1[34] hari lagi\)"))).to_be_visible()
    expect(page.get_by_role("heading", name="Cara memeriksa keaslian")).to_be_visible()
    download = page.locator("#serah-terima a[href*='/unduh/']").first
    href = download.get_attribute("href")
    assert href is not None
    body = page.context.request.get(server.url + href).body()
    expected = page.locator("#serah-terima td code.hash").first.inner_text()
    assert hashlib.sha256(body).hexdigest() == expected
    if os.environ.get("SAKSI_SCREENSHOTS"):
        page.locator("#serah-terima").scroll_into_view_if_needed()
        page.screenshot(path="docs/screenshot-agency-download.png", full_page=False)


def test_bad_input_is_shown_next_to_the_field_and_kept(page: Page, live_server: LiveServer) -> None:
    login(page, live_server, Role.OPERATOR)
    page.goto(f"{live_server.url}/permintaan/baru")
    fill_request(page, "B/777/XI/2026", start=_yesterday(11), end=_yesterday(10))
    page.get_by_label("Nomor surat").fill("")
    page.get_by_label("Kejadian").fill("Tabrak lari di Bundaran Weru")

    page.get_by_role("button", name="Simpan permintaan").click()

    expect(page.locator("#letter_number-error")).to_have_text("Wajib diisi.")
    expect(page.get_by_label("Nomor surat")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Kejadian")).to_have_value("Tabrak lari di Bundaran Weru")
    # Chromium drops ":00" seconds from a datetime-local value; the minute is what was typed.
    expect(page.get_by_label("Mulai (WIB)")).to_have_value(re.compile("^" + _yesterday(11)[:16]))

    page.get_by_label("Nomor surat").fill("B/777/XI/2026")
    page.get_by_label("Pindaian surat (PDF)").set_input_files(
        {"name": "surat.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.get_by_role("button", name="Simpan permintaan").click()

    expect(page.locator("#items-0-error")).to_have_text("Waktu selesai harus setelah waktu mulai.")
    expect(page.get_by_label("Nomor surat")).to_have_value("B/777/XI/2026")


def test_a_return_needs_a_reason(page: Page, browser: Browser, live_server: LiveServer) -> None:
    login(page, live_server, Role.PEMOHON)
    page.goto(f"{live_server.url}/permintaan/baru")
    fill_request(page, "B/888/XI/2026", start=_yesterday(12), end=_yesterday(12, 5))
    page.get_by_role("button", name="Simpan permintaan").click()
    page.wait_for_url(re.compile(r"/permintaan/\d+$"))
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    kadis = context.new_page()
    login(kadis, live_server, Role.KEPALA_DINAS)
    kadis.goto(page.url)

    kadis.get_by_role("button", name="Kembalikan permintaan").click()
    # The form's own error; the page may also warn that yesterday's footage is about to be
    # overwritten (the simulator keeps two days), once the intake check has asked the NVR.
    expect(kadis.locator("p.error[role=alert]")).to_have_text("Tuliskan alasan pengembalian.")

    kadis.get_by_label("Catatan / alasan").fill("Surat belum ditandatangani Kapolres")
    kadis.get_by_role("button", name="Kembalikan permintaan").click()
    expect(kadis.locator("h1 .badge")).to_have_text("Dikembalikan")
    context.close()


def test_pages_fit_a_1366x768_screen(page: Page, live_server: LiveServer) -> None:
    login(page, live_server, Role.OPERATOR)
    for path in ("/", "/permintaan/baru"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"{path} scrolls sideways ({width}px)"


def test_wrong_password_and_no_session(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/masuk")

    page.get_by_label("Nama pengguna").fill("operator")
    page.get_by_label("Kata sandi").fill("salah-sekali")
    page.get_by_role("button", name="Masuk").click()

    expect(page.get_by_role("alert")).to_have_text("Nama pengguna atau kata sandi salah.")
    expect(page.get_by_label("Nama pengguna")).to_have_value("operator")


def test_admin_registers_an_nvr_and_a_camera(page: Page, live_server: LiveServer) -> None:
    login(page, live_server, Role.ADMIN)
    page.get_by_role("link", name="Administrasi").click()
    nvr = page.get_by_role("form", name="Tambah NVR")
    nvr.get_by_label("Nama NVR").fill("NVR Kantor Kecamatan Weru")
    nvr.get_by_label("Alamat (host/IP)").fill("http://nvr-weru")
    nvr.get_by_label("Port HTTP").fill("80")
    nvr.get_by_label("Port RTSP").fill("554")
    nvr.get_by_label("Nama pengguna NVR").fill("admin")
    nvr.get_by_label("Kata sandi NVR").fill("rahasia-nvr")
    nvr.get_by_label("Firmware membaca waktu …Z").check()  # the vendor is still ONVIF
    nvr.get_by_role("button", name="Tambah NVR").click()

    refused = page.get_by_role("form", name="Tambah NVR")
    expect(refused.locator("#nvr-host-error")).to_be_visible()
    expect(refused.locator("#nvr-hikvision_z_is_local-error")).to_contain_text("hanya untuk NVR")
    expect(refused.get_by_label("Nama NVR")).to_have_value("NVR Kantor Kecamatan Weru")

    refused.get_by_label("Jenis").select_option("hikvision")
    refused.get_by_label("Alamat (host/IP)").fill("10.20.30.40")
    refused.get_by_label("Kata sandi NVR").fill("rahasia-nvr")
    refused.get_by_label("Batas sesi pemutaran").fill("1")
    refused.get_by_role("button", name="Tambah NVR").click()
    row = page.locator("#nvr tbody tr[data-nvr]", has_text="NVR Kantor Kecamatan Weru")
    expect(row).to_contain_text("waktu …Z dibaca lokal")
    expect(row.locator("[data-field=playback-limit]")).to_have_text("1")
    expect(page.locator("#nvr")).not_to_contain_text("rahasia-nvr")

    camera = page.locator("#kamera")
    camera.get_by_label("Lokasi/titik CCTV").fill("Pertigaan Weru Lor")
    camera.get_by_label("Nama kamera").fill("Kamera 5")
    camera.get_by_label("NVR").select_option(label="NVR Kantor Kecamatan Weru")
    camera.get_by_label("Kanal").fill("5")
    camera.get_by_role("button", name="Tambah titik CCTV").click()
    expect(page.locator("#kamera tbody")).to_contain_text("Pertigaan Weru Lor")


def test_admin_pages_are_for_admins_only(page: Page, live_server: LiveServer) -> None:
    login(page, live_server, Role.OPERATOR)

    response = page.goto(f"{live_server.url}/admin")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("link", name="Administrasi")).to_have_count(0)


def test_public_verification_hashes_in_the_browser(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    """The in-browser SHA-256 must equal hashlib's across 4 MiB chunk boundaries."""
    issued = tmp_path / "klip.mp4"
    issued.write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    digest = hashlib.sha256(issued.read_bytes()).hexdigest()
    runtime = live_server.runtime
    with unit_of_work(runtime.sessions) as session:
        custody_service.record(
            session, "export.file_written", custody_service.SYSTEM, runtime.clock.now(),
            object={"bast_number": "001/BAST/2026"}, result={"sha256": digest},
        )  # fmt: skip
    stranger = tmp_path / "lain.mp4"
    stranger.write_bytes(b"bukan rekaman kantor")

    page.goto(f"{live_server.url}/verifikasi")
    page.get_by_label("Pilih berkas rekaman").set_input_files(str(issued))

    expect(page.locator("#result")).to_contain_text("DITEMUKAN", timeout=30000)
    expect(page.locator("#result")).to_contain_text(digest)
    expect(page.locator("#result")).to_contain_text("Nomor BAST: 001/BAST/2026")
    page.get_by_label("Pilih berkas rekaman").set_input_files(str(stranger))
    expect(page.locator("#result")).to_contain_text("TIDAK DITEMUKAN")
    expect(page.locator("#result")).to_contain_text(
        hashlib.sha256(b"bukan rekaman kantor").hexdigest()
    )


def test_the_request_page_shows_what_the_nvr_holds_and_preserves_it(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    """The simulator keeps two days: yesterday is within three days of being overwritten."""
    login(page, live_server, Role.PEMOHON)
    page.goto(f"{live_server.url}/permintaan/baru")
    fill_request(page, "B/777/XI/2026/Reskrim", start=_yesterday(9), end=_yesterday(9, 1))
    page.get_by_role("button", name="Simpan permintaan").click()
    page.wait_for_url(re.compile(r"/permintaan/\d+$"))
    request_url = page.url
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    operator = context.new_page()
    login(operator, live_server, Role.OPERATOR)
    row = operator.locator("tr[data-item]")
    for _ in range(150):  # the NVR is asked by a job after the registration commits
        operator.goto(request_url)
        if row.get_attribute("data-preservation") != "unchecked":
            break
        operator.wait_for_timeout(200)
    expect(row).to_have_attribute("data-preservation", "at_risk")
    expect(row).to_contain_text("Lengkap")
    expect(row).to_contain_text("Segera tertimpa")
    expect(row).to_contain_text("Rekaman tertua di NVR")
    expect(operator.get_by_role("alert")).to_contain_text("hampir tertimpa")
    operator.goto(live_server.url + "/")
    expect(operator.locator("tr", has_text="B/777/XI/2026/Reskrim")).to_contain_text(
        "Segera tertimpa"
    )  # flagged in the list of requests too
    operator.goto(request_url)
    operator.get_by_role("button", name="Ambil salinan pengamanan").click()
    operator.wait_for_url(request_url + "#ekspor")
    expect(operator.locator("tr[data-export]")).to_contain_text("salinan pengamanan")
    expect(page.get_by_role("button", name="Ambil salinan pengamanan")).to_have_count(0)
    context.close()


def test_admin_tests_an_nvr_and_the_auditor_checks_the_ledger(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    login(page, live_server, Role.ADMIN)
    page.goto(f"{live_server.url}/admin#nvr")
    page.get_by_role("button", name="Uji koneksi NVR Simulator Diskominfo").focus()
    page.keyboard.press("Enter")
    result = page.locator("tr.probe")
    expect(result).to_contain_text("Terhubung")
    expect(result).to_contain_text("NVR Simulator")
    expect(result).to_contain_text("Selisih jam NVR")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    auditor = context.new_page()
    login(auditor, live_server, Role.AUDITOR)
    auditor.get_by_role("link", name="Audit").click()
    auditor.get_by_role("button", name="Jalankan pemeriksaan").click()
    expect(auditor.locator("#hasil")).to_have_attribute("data-ok", "true")
    expect(auditor.locator("#hasil")).to_contain_text("Utuh.")
    for shown, path in ((page, "/admin"), (auditor, "/audit")):
        width = shown.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"{path} scrolls sideways ({width}px)"
    context.close()
