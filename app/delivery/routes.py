"""Deliveries over REST: start, list, show, revoke; the purge alert."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app import errors
from app.delivery import purge, service
from app.delivery.models import Delivery
from app.delivery.schemas import DeliveryRead, DeliveryStarted, PurgeStatus
from app.deps import CurrentUser, RuntimeDep, SessionDep, StaffUser, WritingStaff
from app.http import ERROR_RESPONSES, PathId
from app.requests import service as requests_service
from app.requests.routes import RequestDep
from app.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["delivery"], responses=ERROR_RESPONSES)


def _readable(delivery_id: PathId, session: SessionDep, user: CurrentUser) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise errors.NotFound(f"no delivery {delivery_id}")
    requests_service.check_can_read(
        user, requests_service.get_request(session, delivery.request_id)
    )
    return delivery


DeliveryDep = Annotated[Delivery, Depends(_readable)]


def read(runtime: Runtime, delivery: Delivery) -> DeliveryRead:
    overdue = (
        delivery.purged_at is None
        and delivery.purge_due_at is not None
        and (runtime.clock.now() - delivery.purge_due_at).total_seconds()
        > runtime.settings.purge_alert_minutes * 60
    )
    return DeliveryRead.model_validate(delivery).model_copy(update={"purge_overdue": overdue})


@router.post("/requests/{request_id}/deliveries", response_model=DeliveryStarted, status_code=202)
def start_delivery(
    request: RequestDep, user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> DeliveryStarted:
    """Deliver the package (Drive, a local link or a physical medium); the upload runs as a job.

    For a local link the response carries the link this once; Saksi keeps only its hash.
    """
    started = service.start_delivery(runtime, session, request, user, runtime.clock.now())
    delivery = session.get(Delivery, started.delivery_id)
    assert delivery is not None
    return DeliveryStarted(**read(runtime, delivery).model_dump(), link=started.url)


@router.get("/requests/{request_id}/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    request: RequestDep, session: SessionDep, runtime: RuntimeDep
) -> list[DeliveryRead]:
    """Every delivery of a request, failed and purged ones included."""
    return [read(runtime, d) for d in service.deliveries_of(session, request)]


@router.get("/deliveries/purge-status", response_model=PurgeStatus)
def purge_status(_user: StaffUser, session: SessionDep, runtime: RuntimeDep) -> PurgeStatus:
    """The purge alert: deliveries past their 14 days that are still not purged."""
    now = runtime.clock.now()
    overdue = [d.id for d in purge.overdue_deliveries(runtime, session, now)]
    due = [d.id for d in purge.due_deliveries(session, now)]
    return PurgeStatus(alert=bool(overdue), overdue=overdue, due_now=due)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryRead)
def get_delivery(delivery: DeliveryDep, runtime: RuntimeDep) -> DeliveryRead:
    """A delivery's state, files and hashes, expiry and purge."""
    return read(runtime, delivery)


@router.post("/deliveries/{delivery_id}/revoke", response_model=DeliveryRead)
def revoke_delivery(
    delivery: DeliveryDep, user: WritingStaff, runtime: RuntimeDep, session: SessionDep
) -> DeliveryRead:
    """Withdraw the recipient's access now; the purge still deletes the files when due."""
    delivery_id = delivery.id
    session.commit()  # release the request's transaction: the revocation writes on its own
    service.revoke(runtime, delivery_id, user)
    session.expire_all()
    refreshed = session.get(Delivery, delivery_id)
    assert refreshed is not None
    return read(runtime, refreshed)
