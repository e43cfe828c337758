"""Admin pages: the registry (agencies, NVRs, cameras) and user accounts, in Bahasa Indonesia."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app import errors
from app.agencies import service as agencies
from app.agencies.models import AgencyKind
from app.agencies.schemas import AgencyCreate, AgencyUpdate
from app.auth import service as users
from app.auth.models import Role, User
from app.auth.schemas import UserCreate, UserUpdate
from app.cameras import probe
from app.cameras import service as cameras
from app.cameras.models import NvrVendor
from app.cameras.schemas import CameraCreate, CameraUpdate, NvrCreate, NvrUpdate
from app.custody import service as custody
from app.delivery import reconcile
from app.deps import RuntimeDep, SessionDep
from app.http import PathId
from app.notify import models as notify_models
from app.notify import routes as notify_routes
from app.runtime import Runtime
from app.web import forms, labels
from app.web.routes import WebUser, render
from app.web.session import check_csrf

router = APIRouter(prefix="/admin", include_in_schema=False)

AGENCY_KINDS = {
    "polri": "Polri",
    "kejaksaan": "Kejaksaan",
    "kpk": "KPK",
    "pengadilan": "Pengadilan",
    "tni": "TNI",
    "bnn": "BNN",
    "lainnya": "Lainnya",
}


def admin_user(user: WebUser) -> User:
    if user.role is not Role.ADMIN:
        raise errors.RoleNotPermitted("admin pages are for administrators")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def _page(
    request: Request,
    runtime: Runtime,
    session: Session,
    user: User,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "user": user,
        "agencies": agencies.list_agencies(session),
        "nvrs": cameras.list_nvrs(session),
        "cameras": cameras.list_cameras(session),
        "users": users.list_users(session),
        "agency_kinds": AGENCY_KINDS,
        "vendors": [v.value for v in NvrVendor],
        "default_playback_limit": runtime.settings.nvr_playback_limit,
        "roles": labels.ROLES,
        "errors": {},
        "values": {},
        "section": "",
        "drive_orphans": reconcile.open_orphans(session),
        # Issue 19: every notification sent or failed, for admins (the latest first).
        "notifications": notify_routes.recent(session),
        "notification_kinds": notify_models.KIND_LABELS,
        "notification_states": notify_models.STATE_LABELS,
    }
    return render(request, runtime, "admin.html", status_code, **(context | extra))


@router.get("", response_class=HTMLResponse)
def admin_home(
    request: Request, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    return _page(request, runtime, session, user)


async def _submitted(request: Request, runtime: Runtime) -> dict[str, str]:
    async with request.form() as form:
        check_csrf(runtime, request, str(form.get("csrf", "")))
        return {k: str(v).strip() for k, v in form.items() if isinstance(v, str) and k != "csrf"}


def _create(
    request: Request,
    runtime: Runtime,
    session: Session,
    user: User,
    section: str,
    values: dict[str, str],
    build: Callable[[dict[str, Any]], BaseModel],
    save: Callable[[Any], object],
) -> Response:
    """Validate a form into its schema and save it, or show the errors next to the fields."""
    data = {k: v for k, v in values.items() if v != ""}
    try:
        save(build(data))
    except ValidationError as exc:
        found = forms.validation_errors(exc)
        return _page(
            request, runtime, session, user, 422, section=section, values=values, errors=found
        )
    except errors.SaksiError as exc:
        session.rollback()
        found = {"_form": labels.message(exc.code, exc.detail)}
        return _page(
            request, runtime, session, user, exc.status_code, section=section, values=values,
            errors=found,
        )  # fmt: skip
    return RedirectResponse(f"/admin#{section}", status_code=303)


@router.post("/instansi", response_model=None)
async def add_agency(
    request: Request, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    values = await _submitted(request, runtime)
    now = runtime.clock.now()
    return _create(
        request, runtime, session, user, "instansi", values, AgencyCreate.model_validate,
        lambda data: agencies.create_agency(session, data, now, by=custody.performer(user)),
    )  # fmt: skip


@router.post("/instansi/{agency_id}/status", response_model=None)
async def toggle_agency(
    request: Request, agency_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    await _submitted(request, runtime)
    agency = agencies.get_agency(session, agency_id)
    change = AgencyUpdate(active=not agency.active)
    agencies.update_agency(session, agency, change, runtime.clock.now(), by=custody.performer(user))
    return RedirectResponse("/admin#instansi", status_code=303)


@router.post("/kamera/{camera_id}/status", response_model=None)
async def toggle_camera(
    request: Request, camera_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Take a camera out of what requests may name (broken, removed), or back in."""
    await _submitted(request, runtime)
    camera = cameras.get_camera(session, camera_id)
    change = CameraUpdate(active=not camera.active)
    cameras.update_camera(session, camera, change, runtime.clock.now(), by=custody.performer(user))
    return RedirectResponse("/admin#kamera", status_code=303)


@router.post("/nvr", response_model=None)
async def add_nvr(
    request: Request, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    values = await _submitted(request, runtime)
    now = runtime.clock.now()
    return _create(
        request, runtime, session, user, "nvr", values, NvrCreate.model_validate,
        lambda data: cameras.create_nvr(
            session, data, runtime.secret_box, now, by=custody.performer(user)
        ),
    )  # fmt: skip


@router.post("/nvr/{nvr_id}", response_model=None)
async def change_nvr(
    request: Request, nvr_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Change an NVR's address, account, zone and device settings (its vendor stays)."""
    values = await _submitted(request, runtime)
    nvr = cameras.get_nvr(session, nvr_id)
    now = runtime.clock.now()
    return _create(
        request, runtime, session, user, f"nvr-{nvr_id}", values,
        lambda data: NvrUpdate.model_validate(_nvr_change(data, values, nvr.vendor)),
        lambda data: cameras.update_nvr(
            session, nvr, data, runtime.secret_box, now, by=custody.performer(user)
        ),
    )  # fmt: skip


def _nvr_change(data: dict[str, Any], values: dict[str, str], vendor: NvrVendor) -> dict[str, Any]:
    """An edit form's fields as a change: an empty password keeps the old one, an empty limit
    goes back to the default, an unticked box is a "no"."""
    change = dict(data) | {"active": "active" in values}
    change["playback_limit"] = data.get("playback_limit")
    if vendor is NvrVendor.HIKVISION:
        change["hikvision_z_is_local"] = "hikvision_z_is_local" in values
    return change


@router.post("/nvr/{nvr_id}/uji", response_model=None)
def test_nvr(
    request: Request, nvr_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep,
    csrf: Annotated[str, Form()],
) -> Response:  # fmt: skip
    """Test the connection: the device's make, model and clock offset, shown in its row."""
    check_csrf(runtime, request, csrf)
    result = probe.probe_nvr(runtime, session, cameras.get_nvr(session, nvr_id), user)
    return _page(request, runtime, session, user, section="nvr", probe=result)


@router.post("/kamera", response_model=None)
async def add_camera(
    request: Request, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    values = await _submitted(request, runtime)
    now = runtime.clock.now()
    return _create(
        request, runtime, session, user, "kamera", values, CameraCreate.model_validate,
        lambda data: cameras.create_camera(session, data, now, by=custody.performer(user)),
    )  # fmt: skip


@router.post("/pengguna", response_model=None)
async def add_user(
    request: Request, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    values = await _submitted(request, runtime)
    now = runtime.clock.now()
    return _create(
        request, runtime, session, user, "pengguna", values, UserCreate.model_validate,
        lambda data: users.create_user(session, data, now, by=custody.performer(user)),
    )  # fmt: skip


__all__ = ["AGENCY_KINDS", "AgencyKind", "router"]


@router.post("/pengguna/{user_id}/status", response_model=None)
async def toggle_user(
    request: Request, user_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Deactivate an account (its sessions end at once) or activate it again."""
    values = await _submitted(request, runtime)
    account = users.get_user(session, user_id)
    return _create(
        request, runtime, session, user, f"pengguna-{user_id}", values,
        lambda _data: UserUpdate(active=not account.active),
        lambda data: users.update_user(
            session, account, data, runtime.clock.now(), by=custody.performer(user)
        ),
    )  # fmt: skip


@router.post("/pengguna/{user_id}/sandi", response_model=None)
async def reset_password(
    request: Request, user_id: PathId, user: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Set a new password for an account (forgotten, or exposed): its old sessions end."""
    values = await _submitted(request, runtime)
    account = users.get_user(session, user_id)
    return _create(
        request, runtime, session, user, f"pengguna-{user_id}", values,
        lambda data: UserUpdate(password=data.get("password", "")),
        lambda data: users.update_user(
            session, account, data, runtime.clock.now(), by=custody.performer(user)
        ),
    )  # fmt: skip
