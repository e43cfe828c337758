from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from app.agencies import service
from app.agencies.models import Agency
from app.agencies.schemas import AgencyCreate, AgencyRead, AgencyUpdate
from app.custody import service as custody
from app.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep
from app.http import ERROR_RESPONSES, PathId
from app.paging import Paging, page_by_id

router = APIRouter(prefix="/api/v1/agencies", tags=["registry"], responses=ERROR_RESPONSES)


def _agency(agency_id: PathId, session: SessionDep) -> Agency:
    return service.get_agency(session, agency_id)


AgencyDep = Annotated[Agency, Depends(_agency)]


@router.get("", response_model=list[AgencyRead])
def list_agencies(
    _user: CurrentUser, session: SessionDep, paging: Paging, response: Response
) -> list[AgencyRead]:
    """List the institutions authorised to request footage, by id, a page at a time."""
    rows = page_by_id(session, select(Agency), Agency.id, paging, response)
    return [AgencyRead.model_validate(a) for a in rows]


@router.post("", response_model=AgencyRead, status_code=201)
def create_agency(
    data: AgencyCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> AgencyRead:
    by = custody.performer(admin)
    return AgencyRead.model_validate(
        service.create_agency(session, data, runtime.clock.now(), by=by)
    )


@router.get("/{agency_id}", response_model=AgencyRead)
def get_agency(agency: AgencyDep, _user: CurrentUser) -> AgencyRead:
    return AgencyRead.model_validate(agency)


@router.patch("/{agency_id}", response_model=AgencyRead)
def update_agency(
    agency: AgencyDep, data: AgencyUpdate, admin: AdminUser, session: SessionDep,
    runtime: RuntimeDep,
) -> AgencyRead:  # fmt: skip
    by = custody.performer(admin)
    return AgencyRead.model_validate(
        service.update_agency(session, agency, data, runtime.clock.now(), by=by)
    )
