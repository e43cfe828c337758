from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from app.auth import passwords
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
    # The policy (length, common passwords, the username) is checked below; see app.auth.passwords.
    password: str = Field(max_length=passwords.MAX_LENGTH)
    id_number: str | None = Field(default=None, max_length=64)
    position: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    agency_id: int | None = None

    @model_validator(mode="after")
    def _password_policy(self) -> UserCreate:
        passwords.check(self.password, self.username)
        return self


class UserUpdate(BaseModel):
    """What an admin changes of an account: its role and agency never (make a new account)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=64)
    position: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    # Whether the account gets e-mail notifications (app.notify); the user can change it too.
    notify_email: bool | None = None
    password: str | None = Field(default=None, max_length=passwords.MAX_LENGTH)
    active: bool | None = None

    @field_validator("password")
    @classmethod
    def _password_policy(cls, password: str | None) -> str | None:
        return None if password is None else passwords.check(password)


class ProfileUpdate(BaseModel):
    """What a user changes of their own account: their address and whether they want e-mail
    notifications (issue 19)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    email: EmailStr | None = None
    notify_email: bool | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    id_number: str | None
    position: str | None
    email: str | None
    notify_email: bool
    agency_id: int | None
    active: bool


class LockoutRead(BaseModel):
    """A throttled key: `login:account:<name>`, `login:address:<ip>`, `download:link:<hash>`…"""

    model_config = ConfigDict(from_attributes=True)

    key: str
    locked_until: datetime
    lockouts: int
