"""Password hashing, access tokens and encryption of stored device credentials."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app import errors

_hasher = PasswordHasher()
TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "saksi"


def password_hasher() -> PasswordHasher:
    return _hasher


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (tests use a cheap cost; production keeps the default)."""
    global _hasher  # noqa: PLW0603 - process-wide hashing policy
    _hasher = hasher


def hash_password(password: str) -> str:
    """Return an argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether `password` matches the stored argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    role: str
    expires_at: datetime
    generation: int  # the account's session generation when the token was issued
    issued_at: datetime | None = None
    session_id: str | None = None  # a browser session's id (web cookies only)


def issue_token(
    key: bytes, user_id: int, role: str, now: datetime, ttl: timedelta,
    *, generation: int = 0, session_id: str | None = None,
) -> str:  # fmt: skip
    """Sign a token for a user's session: a bearer token, or (with `session_id`) a cookie."""
    claims: dict[str, str | int] = {
        "sub": str(user_id),
        "role": role,
        "aud": TOKEN_AUDIENCE,
        "gen": generation,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, key, algorithm=TOKEN_ALGORITHM)


def read_token(key: bytes, token: str, now: datetime) -> TokenClaims:
    """Check a token's signature and expiry against `now`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            # Tokens from before session generations (no `gen`) are refused: sign in again.
            options={"verify_exp": False, "require": ["sub", "exp", "role", "gen"]},
        )
    except jwt.PyJWTError as exc:
        raise errors.InvalidToken("the access token is invalid") from exc
    # Expiry is checked against the injected clock, not the wall clock, so tests can move time.
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
    if expires_at <= now:
        raise errors.InvalidToken("the access token has expired")
    issued = claims.get("iat")
    issued_at = datetime.fromtimestamp(int(issued), tz=now.tzinfo) if issued is not None else None
    sid = claims.get("sid")
    return TokenClaims(
        user_id=int(claims["sub"]), role=str(claims["role"]), expires_at=expires_at,
        generation=int(claims["gen"]), issued_at=issued_at,
        session_id=str(sid) if sid is not None else None,
    )  # fmt: skip


class SecretBox:
    """Encrypts small secrets (NVR passwords) at rest with a key derived from the master key."""

    def __init__(self, master_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"saksi nvr credentials"
        ).derive(master_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise errors.SaksiError(
                "a stored credential cannot be decrypted: was SAKSI_NVR_SECRET_KEY changed?"
            ) from exc
