from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.agencies.models import AgencyKind


class AgencyCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=200)
    kind: AgencyKind
    active: bool = True


class AgencyUpdate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: AgencyKind | None = None
    active: bool | None = None


class AgencyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: AgencyKind
    active: bool
