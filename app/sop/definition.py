"""The SOP as data: steps, their roles and time standards, loaded from a TOML file."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.auth.models import Role

DEFAULT_SOP_FILE = Path(__file__).with_name("cirebon_cctv.toml")


class StepAction(StrEnum):
    REGISTER = "register"
    DISPOSE = "dispose"
    ASSIGN = "assign"
    EXPORT = "export"
    HANDOVER = "handover"
    LOG = "log"


# Actions an operator marks as done; the others have their own endpoints.
COMPLETABLE_ACTIONS = frozenset({StepAction.EXPORT, StepAction.HANDOVER, StepAction.LOG})


class SopStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1)
    action: StepAction
    activity: str = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)
    standard_minutes: int | None = Field(default=None, ge=1)
    inputs: tuple[str, ...] = ()
    output: str = ""

    @property
    def standard(self) -> timedelta | None:
        return None if self.standard_minutes is None else timedelta(minutes=self.standard_minutes)


class SopDefinition(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    name: str
    reference: str = ""
    steps: tuple[SopStep, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> SopDefinition:
        numbers = [step.number for step in self.steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("steps must be numbered 1, 2, 3, … in order")
        if self.steps[0].action is not StepAction.REGISTER:
            raise ValueError("the first step must be the registration of the letter")
        return self

    def step(self, number: int) -> SopStep:
        return self.steps[number - 1]

    @property
    def last_step(self) -> int:
        return len(self.steps)


def load_sop(path: Path | None = None) -> SopDefinition:
    """Load and validate an SOP definition; the Cirebon CCTV SOP by default."""
    with (path or DEFAULT_SOP_FILE).open("rb") as handle:
        return SopDefinition.model_validate(tomllib.load(handle))
