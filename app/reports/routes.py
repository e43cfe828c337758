"""Log permintaan over REST: the register as CSV and XLSX, and the monthly summary."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app import errors
from app.auth.models import Role, User
from app.deps import RuntimeDep, SessionDep, require_roles
from app.http import ERROR_RESPONSES
from app.reports.register import Summary, monthly_summary, register_csv, register_xlsx
from app.reports.service import register_rows

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=ERROR_RESPONSES)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_ROLES = (Role.ADMIN, Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG,
                Role.SUBKOORDINATOR, Role.OPERATOR, Role.AUDITOR)  # fmt: skip
Reader = Annotated[User, Depends(require_roles(*REPORT_ROLES))]


@router.get(
    "/register.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
def register_as_csv(_user: Reader, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Every request with the time of each SOP step, standard met or missed, delivery and purge."""
    body = register_csv(register_rows(session, runtime.sop), runtime.zone)
    return Response(body, media_type="text/csv; charset=utf-8", headers=_attachment("csv"))


@router.get("/register.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def register_as_xlsx(_user: Reader, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The same register as a spreadsheet (sheet *Log Permintaan*)."""
    body = register_xlsx(register_rows(session, runtime.sop), runtime.zone)
    return Response(body, media_type=XLSX, headers=_attachment("xlsx"))


@router.get("/monthly", response_model=Summary)
def monthly(
    _user: Reader, session: SessionDep, runtime: RuntimeDep,
    month: Annotated[str, Query(description="YYYY-MM, in office time")],
) -> Summary:  # fmt: skip
    """Count, median handling time per step and overall, share of steps within standard."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise errors.ValidationFailed("month must be YYYY-MM")
    first = date(int(month[:4]), int(month[5:]), 1)
    return monthly_summary(register_rows(session, runtime.sop), first, runtime.zone)


def _attachment(extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="log-permintaan.{extension}"'}
