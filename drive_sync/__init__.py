"""Deliver exported footage: Google Drive with verified resumable uploads, or local links."""

from ._activity import ACTIVITY_SCOPE, ActivityReader, DriveActivity
from ._auth import build_service, load_credentials
from ._drive import DriveBackend, DriveConfig
from ._local import (
    DownloadRecorder,
    JsonLinkStore,
    LinkStore,
    LocalBackend,
    LocalLink,
    hash_token,
    serve_link,
)
from ._models import (
    DEFAULT_TTL,
    Container,
    DeliveryBackend,
    DeliveryRecord,
    DeliveryStatus,
    ListedItem,
    PurgeResult,
    ShareResult,
    UploadResult,
)
from ._ranges import FileResponse, serve_file
from ._retry import RetryPolicy
from ._state import JsonFileStateStore, MemoryStateStore, UploadState, UploadStateStore
from ._upload import CHUNK_UNIT, DEFAULT_CHUNK
from .errors import (
    ActivityUnavailable,
    ChecksumMismatch,
    DeliveryError,
    DriveAccessLost,
    DriveError,
    DriveQuotaExceeded,
    DriveRateLimited,
    LinkExpired,
    LinkNotFound,
    LinkRevoked,
    RecipientUnshareable,
    UploadSessionExpired,
)

__all__ = [
    "ACTIVITY_SCOPE",
    "ActivityReader",
    "ActivityUnavailable",
    "DriveActivity",
    "CHUNK_UNIT",
    "DEFAULT_CHUNK",
    "DEFAULT_TTL",
    "ChecksumMismatch",
    "Container",
    "DeliveryBackend",
    "DeliveryError",
    "DriveAccessLost",
    "DeliveryRecord",
    "DeliveryStatus",
    "DownloadRecorder",
    "DriveBackend",
    "DriveConfig",
    "DriveError",
    "RecipientUnshareable",
    "DriveQuotaExceeded",
    "DriveRateLimited",
    "FileResponse",
    "JsonFileStateStore",
    "JsonLinkStore",
    "LinkExpired",
    "LinkNotFound",
    "LinkRevoked",
    "LinkStore",
    "ListedItem",
    "LocalBackend",
    "LocalLink",
    "MemoryStateStore",
    "PurgeResult",
    "RetryPolicy",
    "ShareResult",
    "UploadResult",
    "UploadSessionExpired",
    "UploadState",
    "UploadStateStore",
    "build_service",
    "hash_token",
    "load_credentials",
    "serve_file",
    "serve_link",
]
