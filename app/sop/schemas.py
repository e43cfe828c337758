from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.sop.definition import StepAction
from app.sop.models import StepOutcome


class StepRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_number: int
    action: StepAction
    outcome: StepOutcome
    actor_id: int
    actor_role: Role
    performed_at: datetime
    due_at: datetime | None
    met_standard: bool | None
    note: str
    assigned_operator_id: int | None


class CurrentStepRead(BaseModel):
    number: int
    action: StepAction
    activity: str
    roles: list[Role]
    due_at: datetime | None
    overdue: bool


class StepNote(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    step: int | None = Field(
        default=None, description="The step the client believes is current; refused if stale"
    )
    note: str = Field(default="", max_length=4000)


class AssignOperator(StepNote):
    operator_id: int


class ReturnRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    step: int | None = None
    reason: str = Field(min_length=1, max_length=4000)


class OverdueStepRead(BaseModel):
    request_id: int
    request_number: str
    step: CurrentStepRead
    overdue_by_minutes: int
