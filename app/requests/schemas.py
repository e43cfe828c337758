from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from app.http import MAX_ID
from app.requests.models import DeliveryMethod, Preservation, RequestStatus
from app.sop.schemas import CurrentStepRead, StepRecordRead

Text = Field(min_length=1, max_length=4000)
# Ids as the databases store them (signed 64-bit): a larger one is a 422, not a 500.
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
# CCTV footage and letters of this office: a year outside this range is a typing error (and
# year 1 with an offset cannot even be moved to UTC).
EARLIEST, LATEST = 2000, 2099


def _plausible_year(moment: date) -> date:
    if not EARLIEST <= moment.year <= LATEST:
        raise ValueError(f"the year must be between {EARLIEST} and {LATEST}")
    return moment


def _plausible_moment(moment: datetime) -> datetime:
    _plausible_year(moment.date())
    return moment


def _no_controls(text: str, allowed: frozenset[str] = frozenset()) -> str:
    """Refuse control characters (NUL, escape, …): they end up in the BAST, the register and
    file names, where they hide or break text."""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text):
        raise ValueError("control characters are not allowed")
    return text


def _no_controls_but_lines(text: str) -> str:
    return _no_controls(text, frozenset("\n\r\t"))


Moment = Annotated[datetime, AfterValidator(_plausible_moment)]
Line = Annotated[str, AfterValidator(_no_controls)]
Paragraphs = Annotated[str, AfterValidator(_no_controls_but_lines)]
Day = Annotated[date, AfterValidator(_plausible_year)]


class Person(BaseModel):
    """A requesting officer or recipient: what the BAST's PIHAK KEDUA block needs."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Line = Field(min_length=1, max_length=200)
    id_number: Line = Field(min_length=1, max_length=64, description="NIP, NRP or NIK")
    position: Line = Field(min_length=1, max_length=200)
    institution: Line = Field(min_length=1, max_length=200)
    email: EmailStr


class ItemCreate(BaseModel):
    camera_id: DbId
    start: Moment = Field(description="Window start; without an offset it is office time")
    end: Moment = Field(description="Window end; without an offset it is office time")


class RequestCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    agency_id: DbId
    letter_number: Line = Field(min_length=1, max_length=128)
    letter_date: Day
    legal_basis: Paragraphs = Text
    purpose: Paragraphs = Field(
        min_length=1, max_length=4000, description="digunakan untuk kepentingan …"
    )
    incident: Paragraphs = Text
    officer: Person
    recipient: Person
    delivery_method: DeliveryMethod
    items: list[ItemCreate] = Field(min_length=1, max_length=64)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int
    camera_id: int
    camera_name: str
    location: str
    window_start_at: datetime
    window_end_at: datetime
    # Asked of the NVR at intake: will it still hold the window? (see app/requests/preservation)
    preservation: Preservation
    oldest_recording_at: datetime | None
    preservation_checked_at: datetime | None
    preservation_error: str | None
    coverage: dict[str, Any] | None


class RequestSummary(BaseModel):
    id: int
    number: str
    agency_id: int
    agency_name: str
    letter_number: str
    letter_date: date
    status: RequestStatus
    current_step: CurrentStepRead | None
    created_at: datetime
    # Some item's window is about to be overwritten on its NVR: take a preservation copy now.
    at_risk: bool


class RequestRead(RequestSummary):
    letter_sha256: str
    letter_size: int
    letter_filename: str
    legal_basis: str
    purpose: str
    incident: str
    officer: Person
    recipient: Person
    delivery_method: DeliveryMethod
    assigned_operator_id: int | None
    items: list[ItemRead]
    steps: list[StepRecordRead]
