"""Changing an NVR from the admin page: a rotated password, a new port, its device settings."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.cameras.models import Camera, Nvr, NvrVendor
from app.cameras.service import nvr_password
from app.runtime import Runtime
from custody import ledger
from tests.app.factories import PASSWORD, Factory


def _signed_in_admin(factory: Factory, client: TestClient) -> str:
    factory.user(Role.ADMIN, username="admin-nvr")
    page = client.post("/masuk", data={"username": "admin-nvr", "password": PASSWORD})
    page = client.get("/admin")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _form(nvr: Nvr, **changes: str) -> dict[str, str]:
    fields = {"name": nvr.name, "host": nvr.host, "http_port": str(nvr.http_port),
              "rtsp_port": str(nvr.rtsp_port), "username": nvr.username,
              "timezone": nvr.timezone, "password": "", "playback_limit": "",
              "active": "true"}  # fmt: skip
    return fields | changes


def test_an_admin_rotates_an_nvrs_password_and_sets_its_limits(
    factory: Factory, client: TestClient, session: Session, runtime: Runtime
) -> None:
    nvr = factory.nvr(vendor=NvrVendor.HIKVISION)
    csrf = _signed_in_admin(factory, client)

    changed = client.post(
        f"/admin/nvr/{nvr.id}", follow_redirects=False,
        data={"csrf": csrf} | _form(nvr, rtsp_port="8554", password="Sandi-Baru-2026",
                                    playback_limit="1", hikvision_z_is_local="true"),
    )  # fmt: skip
    kept = client.post(  # the same form again, password empty and the box unticked
        f"/admin/nvr/{nvr.id}", follow_redirects=False,
        data={"csrf": csrf} | _form(nvr, rtsp_port="8554", playback_limit="1"),
    )  # fmt: skip

    assert (changed.status_code, kept.status_code) == (303, 303)
    assert changed.headers["location"] == f"/admin#nvr-{nvr.id}"
    session.expire_all()
    stored = session.get(Nvr, nvr.id)
    assert stored is not None
    assert (stored.rtsp_port, stored.playback_limit) == (8554, 1)
    assert stored.hikvision_z_is_local is False  # unticked the second time
    assert nvr_password(stored, runtime.secret_box) == "Sandi-Baru-2026"  # empty: unchanged
    recorded = ledger.read(session.connection())
    changes = [json.loads(e.canonical)["object"]["changes"]
               for e in recorded if e.action == "registry.nvr_changed"]  # fmt: skip
    assert changes[0]["password"] == "changed"
    assert "password" not in changes[1]
    assert "Sandi-Baru-2026" not in json.dumps(changes)


def test_a_wrong_change_is_shown_in_its_own_form_and_nothing_changes(
    factory: Factory, client: TestClient, session: Session
) -> None:
    nvr = factory.nvr()
    csrf = _signed_in_admin(factory, client)

    refused = client.post(
        f"/admin/nvr/{nvr.id}",
        data={"csrf": csrf} | _form(nvr, rtsp_port="0", timezone="Mars/Olympus"),
    )

    assert refused.status_code == 422
    assert f'<details id="nvr-{nvr.id}" open>' in refused.text
    assert f'id="nvr-{nvr.id}-rtsp_port-error"' in refused.text
    assert f'id="nvr-{nvr.id}-timezone-error"' in refused.text
    session.expire_all()
    stored = session.get(Nvr, nvr.id)
    assert stored is not None
    assert (stored.rtsp_port, stored.timezone) == (nvr.rtsp_port, nvr.timezone)


def test_an_admin_takes_a_camera_out_of_requests_and_back(
    factory: Factory, client: TestClient, session: Session
) -> None:
    camera = factory.camera(factory.nvr())
    csrf = _signed_in_admin(factory, client)

    off = client.post(f"/admin/kamera/{camera.id}/status", data={"csrf": csrf},
                      follow_redirects=False)  # fmt: skip
    session.expire_all()
    inactive = session.get(Camera, camera.id)
    assert inactive is not None
    was_active = inactive.active
    on = client.post(f"/admin/kamera/{camera.id}/status", data={"csrf": csrf},
                     follow_redirects=False)  # fmt: skip

    assert (off.status_code, on.status_code) == (303, 303)
    assert was_active is False
    session.expire_all()
    assert session.get(Camera, camera.id).active is True  # type: ignore[union-attr]
    changes = [json.loads(e.canonical)["object"]["changes"]
               for e in ledger.read(session.connection())
               if e.action == "registry.camera_changed"]  # fmt: skip
    assert changes == [{"active": False}, {"active": True}]
