from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency
from app.agencies.schemas import AgencyCreate, AgencyUpdate
from app.custody import service as custody
from custody import Performer


def get_agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise errors.AgencyNotFound(f"agency {agency_id} does not exist")
    return agency


def list_agencies(session: Session, *, active_only: bool = False) -> list[Agency]:
    query = select(Agency).order_by(Agency.name)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return list(session.scalars(query))


def create_agency(session: Session, data: AgencyCreate, now: datetime, *, by: Performer) -> Agency:
    """Authorise an institution to request footage; on record, as who may ask is evidence."""
    _ensure_unique_name(session, data.name)
    agency = Agency(name=data.name, kind=data.kind, active=data.active, created_at=now)
    session.add(agency)
    session.flush()
    shown = custody.fields({"agency": agency.id} | data.model_dump(mode="json"))
    custody.record(session, "registry.agency_added", by, now, object=shown)
    return agency


def update_agency(
    session: Session, agency: Agency, data: AgencyUpdate, now: datetime, *, by: Performer
) -> Agency:
    """Apply what differs from the record; on record when anything did."""
    asked = data.model_dump(exclude_unset=True, exclude_none=True)
    changes = {field: value for field, value in asked.items() if getattr(agency, field) != value}
    if "name" in changes:
        _ensure_unique_name(session, changes["name"])
    for field, value in changes.items():
        setattr(agency, field, value)
    if changes:
        session.flush()
        shown = custody.fields({"agency": agency.id, "name": agency.name, "changes": changes})
        custody.record(session, "registry.agency_changed", by, now, object=shown)
    return agency


def _ensure_unique_name(session: Session, name: str) -> None:
    if session.scalar(select(Agency.id).where(Agency.name == name)) is not None:
        raise errors.AlreadyExists(f"an agency named {name!r} already exists")
