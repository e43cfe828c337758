from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from app.cameras import probe, service
from app.cameras.models import Camera, Nvr
from app.cameras.schemas import (
    CameraCreate,
    CameraRead,
    CameraUpdate,
    NvrCreate,
    NvrProbeRead,
    NvrRead,
    NvrUpdate,
)
from app.custody import service as custody
from app.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep, StaffUser
from app.http import ERROR_RESPONSES, PathId
from app.paging import Paging, page_by_id

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=ERROR_RESPONSES)


def _nvr(nvr_id: PathId, session: SessionDep) -> Nvr:
    return service.get_nvr(session, nvr_id)


def _camera(camera_id: PathId, session: SessionDep) -> Camera:
    return service.get_camera(session, camera_id)


NvrDep = Annotated[Nvr, Depends(_nvr)]
CameraDep = Annotated[Camera, Depends(_camera)]


@router.get("/nvrs", response_model=list[NvrRead])
def list_nvrs(
    _user: StaffUser, session: SessionDep, paging: Paging, response: Response
) -> list[NvrRead]:
    """List the NVRs, by id, a page at a time."""
    return [
        NvrRead.model_validate(n)
        for n in page_by_id(session, select(Nvr), Nvr.id, paging, response)
    ]


@router.post("/nvrs", response_model=NvrRead, status_code=201)
def create_nvr(
    data: NvrCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> NvrRead:
    by = custody.performer(admin)
    nvr = service.create_nvr(session, data, runtime.secret_box, runtime.clock.now(), by=by)
    return NvrRead.model_validate(nvr)


@router.get("/nvrs/{nvr_id}", response_model=NvrRead)
def get_nvr(nvr: NvrDep, _user: StaffUser) -> NvrRead:
    return NvrRead.model_validate(nvr)


@router.patch("/nvrs/{nvr_id}", response_model=NvrRead)
def update_nvr(
    nvr: NvrDep, data: NvrUpdate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> NvrRead:
    by, now = custody.performer(admin), runtime.clock.now()
    return NvrRead.model_validate(
        service.update_nvr(session, nvr, data, runtime.secret_box, now, by=by)
    )


@router.post("/nvrs/{nvr_id}/probe", response_model=NvrProbeRead)
def probe_nvr(
    nvr: NvrDep, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> NvrProbeRead:
    """Test the connection: make, model, firmware, serial and clock offset, or why it failed."""
    return probe.probe_nvr(runtime, session, nvr, admin)


@router.get("/cameras", response_model=list[CameraRead])
def list_cameras(
    _user: CurrentUser, session: SessionDep, paging: Paging, response: Response
) -> list[CameraRead]:
    """List cameras (every signed-in user: a pemohon picks them by location), by id, a page at
    a time."""
    rows = page_by_id(session, select(Camera), Camera.id, paging, response)
    return [CameraRead.model_validate(c) for c in rows]


@router.post("/cameras", response_model=CameraRead, status_code=201)
def create_camera(
    data: CameraCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> CameraRead:
    by = custody.performer(admin)
    camera = service.create_camera(session, data, runtime.clock.now(), by=by)
    return CameraRead.model_validate(camera)


@router.get("/cameras/{camera_id}", response_model=CameraRead)
def get_camera(camera: CameraDep, _user: CurrentUser) -> CameraRead:
    return CameraRead.model_validate(camera)


@router.patch("/cameras/{camera_id}", response_model=CameraRead)
def update_camera(
    camera: CameraDep, data: CameraUpdate, admin: AdminUser, session: SessionDep,
    runtime: RuntimeDep,
) -> CameraRead:  # fmt: skip
    by = custody.performer(admin)
    return CameraRead.model_validate(
        service.update_camera(session, camera, data, runtime.clock.now(), by=by)
    )
