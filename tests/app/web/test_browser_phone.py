"""Saksi on a phone (issue 19: officials act from a notification): every staff page, the agency
portal, the recipient's download page and the public BAST page fit a 390 × 844 screen without
sideways scrolling, and a Kepala Dinas disposes a letter on it.

`SAKSI_SCREENSHOTS_DIR=docs .venv/bin/pytest tests/app/web/test_browser_phone.py` also saves
the phone screenshots of the README (phone-dashboard.png, phone-request.png, phone-portal.png).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect
from sqlalchemy import select

from app.auth.models import Role, User
from app.cameras.models import Camera
from app.demo import letter_pdf
from app.handover.demo_signers import ensure_demo_signers, seal_person
from app.runtime import Runtime
from app.settings import SigningKeyName
from tests.app.factories import bearer
from tests.app.web.conftest import PASSWORD, LiveServer, login

PHONE: ViewportSize = {"width": 390, "height": 844}
TERMINAL = ("done", "partial", "failed")
# A few of the elements that stick out of the screen, for the failure message.
WIDER_THAN_SCREEN = """() => Array.from(document.querySelectorAll("body *"))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 5)
  .map((e) => e.tagName + "." + e.className + " " + e.getBoundingClientRect().right)"""

# Visible buttons and fields shorter than a fingertip (44 px, the usual touch-target minimum).
TOO_SMALL_TO_TAP = """() => Array.from(document.querySelectorAll(
    "button, select, textarea, input:not([type=checkbox]):not([type=radio]):not([type=hidden])"))
  .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)
  .map((e) => e.outerHTML.slice(0, 80))"""


class Api:
    """REST calls on the live server as each role (the demo accounts, one per role)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def call(self, role: Role, method: str, path: str, **kwargs: Any) -> Any:
        headers = bearer(self.server.runtime, role)
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.text}"
        return response.json()

    def until(self, path: str, done: Callable[[Any], bool], seconds: float = 60) -> Any:
        deadline = time.monotonic() + seconds
        while not done(body := self.call(Role.OPERATOR, "GET", path)):
            assert time.monotonic() < deadline, f"{path} did not finish: {body}"
            time.sleep(0.2)
        return body

    def register(self, letter_number: str, cameras: int) -> int:
        """A request of a 30-second window two hours ago, by the agency's pemohon."""
        runtime = self.server.runtime
        with runtime.sessions() as session:
            camera_ids = list(session.scalars(select(Camera.id).order_by(Camera.id)))[:cameras]
            agency_id = session.scalar(select(User.agency_id).where(User.role == Role.PEMOHON))
        end = runtime.clock.now() - timedelta(hours=2)
        officer = {"name": "AKP Budi Santoso", "id_number": "83051234",
                   "position": "Kasat Reskrim", "institution": "Polresta Cirebon",
                   "email": "reskrim@polresta-cirebon.example.go.id"}  # fmt: skip
        payload = {
            "agency_id": agency_id, "letter_number": letter_number,
            "letter_date": end.astimezone(runtime.zone).date().isoformat(),
            "legal_basis": "Pasal 184 KUHAP; Surat Perintah Penyelidikan",
            "purpose": "penyelidikan perkara pencurian kendaraan bermotor",
            "incident": "Pencurian sepeda motor di sekitar Simpang Empat Sumber",
            "officer": officer,
            "recipient": officer | {"name": "Bripka Andi Wijaya", "position": "Penyidik Pembantu"},
            "delivery_method": "local_link",
            "items": [{"camera_id": c, "start": (end - timedelta(seconds=30)).isoformat(),
                       "end": end.isoformat()} for c in camera_ids],
        }  # fmt: skip
        letter = letter_pdf(letter_number, end.date())
        created = self.call(
            Role.PEMOHON, "POST", "/api/v1/requests", data={"data": json.dumps(payload)},
            files={"letter": ("surat.pdf", letter, "application/pdf")},
        )  # fmt: skip
        return int(created["id"])


@dataclass
class HandedOver:
    """A request at its handover step: two exports, a package, a live link, an issued BAST."""

    request_id: int
    token: str
    bast_number: str


@pytest.fixture(scope="module")
def api(live_server: LiveServer) -> Iterator[Api]:
    client = Api(live_server)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def handed_over(api: Api) -> HandedOver:
    """Walked through the SOP by REST as each role, the way the walkthrough does."""
    request_id = api.register("B/901/XII/2026/Reskrim", cameras=2)
    for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG):
        api.call(role, "POST", f"/api/v1/requests/{request_id}/dispose", json={})
    with api.server.runtime.sessions() as session:
        operator = session.scalar(select(User.id).where(User.role == Role.OPERATOR))
    api.call(Role.SUBKOORDINATOR, "POST", f"/api/v1/requests/{request_id}/assign",
             json={"operator_id": operator, "note": "Mohon segera diperiksa"})  # fmt: skip
    exports = f"/api/v1/requests/{request_id}/exports"
    api.call(Role.OPERATOR, "POST", exports)
    api.until(exports, lambda rows: all(r["state"] in TERMINAL for r in rows))
    api.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/complete", json={})
    api.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/package")
    started = api.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/deliveries")
    api.until(f"/api/v1/deliveries/{started['id']}", lambda d: d["state"] == "shared")
    bast = api.call(Role.OPERATOR, "POST", f"/api/v1/requests/{request_id}/bast")
    demo_signers(api.server.runtime)
    return HandedOver(request_id, started["link"].rsplit("/unduh/", 1)[1], bast["number"])


def demo_signers(runtime: Runtime) -> None:
    """PKCS#12 keys made for the demo (as the walkthrough makes them): the staff's signing forms
    and the portal's approval (sealed by the office) are offered once keys exist."""
    office = runtime.settings.office.name
    with runtime.sessions() as session:
        names = {u.role: u.full_name for u in session.scalars(select(User))}
    people: dict[SigningKeyName, tuple[str, str]] = {
        "operator": (names[Role.OPERATOR], office),
        "subkoordinator": (names[Role.SUBKOORDINATOR], office),
        "seal": seal_person(office),
    }
    _ca, keys = ensure_demo_signers(runtime.settings.data_dir, people, office, runtime.clock.now())
    runtime.settings = runtime.settings.model_copy(update={"signing": keys})


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="id-ID", device_scale_factor=1)
    page = context.new_page()
    yield page
    context.close()


def assert_fits(page: Page, server: LiveServer, path: str) -> None:
    """The page at `path` (shown, not refused) does not scroll sideways on the phone."""
    response = page.goto(server.url + path)
    assert response is not None
    assert response.ok, f"{path}: {response.status}"
    fits = page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert fits, f"{path} scrolls sideways ({width}px > 390px): {page.evaluate(WIDER_THAN_SCREEN)}"
    assert page.evaluate(TOO_SMALL_TO_TAP) == [], f"{path}: controls under 44 px"


def quick_login(page: Page, server: LiveServer, role: Role) -> None:
    """Sign in through the login form (filled at once: the keyboard path is test_browser's)."""
    page.goto(f"{server.url}/masuk")
    page.get_by_label("Nama pengguna").fill(server.usernames[role])
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{server.url}/")


def screenshot(page: Page, name: str) -> None:
    """Save a phone screenshot for the docs, only when SAKSI_SCREENSHOTS_DIR asks for it."""
    folder = os.environ.get("SAKSI_SCREENSHOTS_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def _tap(button: Locator) -> None:
    """Tap a button as a thumb would: it must be touch-sized and inside the 390 px screen."""
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert box["x"] + box["width"] <= 390
    button.click()


def test_a_kepala_dinas_disposes_on_a_phone(phone: Page, api: Api, live_server: LiveServer) -> None:
    request_id = api.register("B/902/XII/2026/Reskrim", cameras=1)
    login(phone, live_server, Role.KEPALA_DINAS)
    waiting = phone.locator("#menunggu")
    expect(waiting).to_contain_text("B/902/XII/2026/Reskrim")
    screenshot(phone, "phone-dashboard.png")
    waiting.locator(f"a[href='/permintaan/{request_id}']").click()
    phone.wait_for_url(f"**/permintaan/{request_id}")
    assert_fits(phone, live_server, f"/permintaan/{request_id}")
    phone.get_by_label("Catatan / alasan").fill("Segera ditindaklanjuti")
    button = phone.get_by_role("button", name="Disposisikan")
    _tap(button)

    phone.wait_for_url(f"**/permintaan/{request_id}")
    expect(phone.locator(".timeline li").nth(1)).to_have_class("done")
    expect(phone.get_by_text("Segera ditindaklanjuti")).to_be_visible()
    assert_fits(phone, live_server, "/")
    expect(phone.locator("#menunggu")).not_to_contain_text("B/902/XII/2026/Reskrim")


STAFF_PAGES = {
    Role.KEPALA_DINAS: ["/", "{request}", "/profil"],
    Role.SEKRETARIS: ["/", "{request}"],
    Role.KEPALA_BIDANG: ["/", "{request}"],
    Role.SUBKOORDINATOR: ["/", "{request}"],
    Role.OPERATOR: ["/", "/permintaan/baru", "{request}"],
    Role.ADMIN: ["/admin", "/audit"],
    Role.AUDITOR: ["/audit", "{request}"],
    Role.PEMOHON: ["/", "/permintaan/baru", "{request}"],
}


def test_every_page_fits_a_phone(
    phone: Page, browser: Browser, live_server: LiveServer, handed_over: HandedOver
) -> None:
    request = f"/permintaan/{handed_over.request_id}"
    for public in ("/masuk", "/verifikasi"):
        assert_fits(phone, live_server, public)
    for clips in (f"/verifikasi/bast/{handed_over.bast_number}", f"/unduh/{handed_over.token}"):
        assert_fits(phone, live_server, clips)
        expect(phone.locator("code.hash").first).to_have_text(re.compile("^[0-9a-f]{64}$"))
        # Each clip names its camera as every other table does: "location — camera".
        expect(phone.locator("td", has_text=re.compile(r"\S — Kamera \d+$"))).to_have_count(2)
    for role, paths in STAFF_PAGES.items():
        context = browser.new_context(viewport=PHONE, locale="id-ID", device_scale_factor=1)
        page = context.new_page()
        quick_login(page, live_server, role)
        if role in (Role.OPERATOR, Role.SUBKOORDINATOR):  # the BAST waits for their signature
            expect(page.locator(f"#menunggu a[href='{request}']")).to_have_count(1)
        for path in paths:
            assert_fits(page, live_server, path.format(request=request))
        if role in (Role.OPERATOR, Role.SUBKOORDINATOR):  # the BAST's signing form, on a phone
            expect(page.locator(f"form[data-sign={role.value}] button")).to_be_visible()
        if role is Role.OPERATOR:
            expect(page.locator("tr[data-export][data-state=done]")).to_have_count(2)
            page.goto(f"{live_server.url}{request}#ekspor")
            screenshot(page, "phone-request.png")
        if role is Role.PEMOHON:
            expect(page.locator("#serah-terima")).to_contain_text("berlaku sampai")
            expect(page.locator("body")).not_to_contain_text("tertimpa")  # no NVR internals
        context.close()


def test_a_pemohon_approves_the_bast_on_a_phone(
    phone: Page, live_server: LiveServer, handed_over: HandedOver
) -> None:
    """The recipient's uncertified electronic approval, sealed by the office (demo keys)."""
    request = f"/permintaan/{handed_over.request_id}"
    login(phone, live_server, Role.PEMOHON)
    expect(phone.locator(f"#menunggu a[href='{request}']")).to_have_count(1)  # waits for them
    assert_fits(phone, live_server, request + "#serah-terima")
    approval = phone.locator("form[data-sign=recipient]")
    approval.get_by_label(re.compile("Saya telah memeriksa BAST ini")).check()
    approval.evaluate("form => form.scrollIntoView()")
    screenshot(phone, "phone-portal.png")
    button = approval.get_by_role("button", name="Setujui BAST secara elektronik")
    _tap(button)

    phone.wait_for_url(f"**{request}#serah-terima")
    expect(phone.locator("[data-field=esign]")).to_contain_text("Pihak Kedua: sudah")
    expect(phone.locator("form[data-sign=recipient]")).to_have_count(0)
    assert_fits(phone, live_server, request)
    assert_fits(phone, live_server, "/")
    expect(phone.locator(f"#menunggu a[href='{request}']")).to_have_count(0)
