"""Credentials for Drive (a service-account key or an OAuth user token) and the v3 client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from google.auth.credentials import Credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build

from .errors import DeliveryError

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"


def load_credentials(path: Path) -> Credentials:
    """Load a service-account key or an authorized-user (OAuth) token file."""
    info = json.loads(path.read_text(encoding="utf-8"))
    kind = info.get("type")
    if kind == "service_account":
        sa: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[DRIVE_SCOPE]
        )
        return sa
    if kind == "authorized_user":
        user = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
            info, scopes=[DRIVE_SCOPE]
        )
        # google-auth ignores the file's token_uri; honour it so proxies and tests work.
        if info.get("token_uri"):
            user = user.with_token_uri(info["token_uri"])
        result: Credentials = user
        return result
    raise DeliveryError(f"unsupported credentials type {kind!r} in {path.name}")


def build_service(credentials: Credentials, api_endpoint: str) -> Any:
    """Build the drive v3 client from the bundled discovery document, rooted at the endpoint."""
    root = api_endpoint.rstrip("/") + "/"
    return build(
        "drive",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": urljoin(root, "drive/v3/")},
    )
