from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from app.settings import SignerRole


class PackageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: int
    zip_sha256: str
    zip_size: int
    manifest_sha256: str
    clips: list[dict[str, Any]]
    unavailable: list[dict[str, Any]]  # requested items without a clip, and why
    checkpoint_size: int
    built_at: datetime


class HandoverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    number: str
    issued_at: datetime
    pdf_sha256: str | None
    docx_sha256: str | None
    signed_scan_sha256: str | None
    signed_at: datetime | None


class SignatureCreate(BaseModel):
    """One signature on an issued document. `nik` and `passphrase` (both or neither) sign with
    the signer's BSrE certificate; they are used for this signing only, never stored or logged.
    The recipient confirms (`confirmed`) that they examined the BAST before approving it."""

    model_config = ConfigDict(extra="forbid")

    role: SignerRole
    nik: str | None = Field(default=None, min_length=16, max_length=16, pattern=r"^[0-9]{16}$")
    passphrase: SecretStr | None = Field(default=None, min_length=1, max_length=256)
    confirmed: bool = False

    @model_validator(mode="after")
    def _both_or_neither(self) -> SignatureCreate:
        if (self.nik is None) != (self.passphrase is None):
            raise ValueError("give both the NIK and the passphrase, or neither")
        return self


class SignedRevisionRead(BaseModel):
    """The signed copy after this signature: its hash, the roles and fields signed so far, and
    whether the signature closed the handover step."""

    model_config = ConfigDict(from_attributes=True)

    sha256: str
    size: int
    fields: list[str]
    roles: list[str]
    step_closed: bool
