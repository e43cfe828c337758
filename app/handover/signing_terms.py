"""What signing takes and gives (app.handover.signing): its errors, the signed revision, a BSrE
signer's login and the recipient's approval, with the statement the recipient confirms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from app import errors
from app.auth.models import User
from custody.events import JsonValue

# What the recipient ticks before approving (the form shows it; the event keeps it).
CONFIRMATION = (
    "Saya telah memeriksa BAST ini, termasuk daftar rekaman dan nilai SHA-256-nya, dan "
    "menyetujui isinya sebagai bukti penerimaan."
)


class AlreadySigned(errors.Conflict):
    """The document carries this role's signature already."""


class NotTheSigner(errors.Forbidden):
    """The user is not the person the document names for this role."""


class SignerNotConfigured(errors.Conflict):
    """No key for this role (or no office seal) is configured."""


class CredentialsRequired(errors.Unprocessable):
    """Staff sign with BSrE here: their NIK and passphrase are needed."""


class ApprovalNotConfirmed(errors.Unprocessable):
    """The recipient approved without confirming they examined the BAST."""


class SigningRefused(errors.Unprocessable):
    """The signing service refused (wrong passphrase, no certificate…): nothing was signed."""


class SigningUnavailable(errors.ServiceUnavailable):
    """The signing service could not be reached: nothing was signed."""


class SigningFailed(errors.Conflict):
    """The document could not be signed as asked: nothing was signed."""


@dataclass(frozen=True, slots=True)
class SignedRevision:
    """The signed copy after one more signature: its path (in the data dir) and hash, the
    signed fields, and whether that signature closed the handover step."""

    path: str
    sha256: str
    size: int
    fields: tuple[str, ...]
    roles: tuple[str, ...] = ()
    step_closed: bool = False


@dataclass(frozen=True, slots=True)
class BsreLogin:
    """What a BSrE signer types at signing time: used for this one signing, never kept."""

    nik: str = field(repr=False)
    passphrase: SecretStr


@dataclass(frozen=True, slots=True)
class Approval:
    """The recipient's approval as the portal saw it; never a password, token or cookie."""

    confirmed: bool
    via: str  # "portal" (a web session) or "api" (a bearer token)
    client_address: str
    user_agent: str
    session_ref: str | None = None  # a SHA-256 prefix of the web session's id, not the id

    def evidence(self, user: User, now: datetime, *, certified: bool) -> dict[str, JsonValue]:
        return {
            "kind": "bsre_signature" if certified else "uncertified_approval",
            "via": self.via, "portal_user_id": user.id, "portal_username": user.username,
            "portal_user_name": user.full_name, "session": self.session_ref,
            "client_address": self.client_address, "user_agent": self.user_agent[:300],
            "approved_at": now.isoformat(), "confirmation": CONFIRMATION,
        }  # fmt: skip
