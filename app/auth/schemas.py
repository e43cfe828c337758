from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.auth.models import Role


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: Role


class UserCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=256)
    id_number: str | None = Field(default=None, max_length=64)
    position: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    agency_id: int | None = None


class UserUpdate(BaseModel):
    """What an admin changes of an account: its role and agency never (make a new account)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=64)
    position: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)
    active: bool | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    id_number: str | None
    position: str | None
    email: str | None
    agency_id: int | None
    active: bool
