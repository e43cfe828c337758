"""Every domain's SQLAlchemy models, imported so the metadata is complete (Alembic, tests)."""

from app.agencies.models import Agency, AgencyKind
from app.auth.models import Role, ThrottleCounter, User, WebSession
from app.cameras.models import Camera, Nvr, NvrVendor
from app.db import Base
from app.delivery.access import DownloadSession
from app.delivery.models import Delivery, DeliveryLink, DeliveryState
from app.delivery.upload_state import DriveUploadSession
from app.exports.models import Export, ExportAttempt, ExportState, NvrSlot
from app.handover.models import BastCounter, EvidencePackage, Handover
from app.jobs.leases import JobLease
from app.notify.models import Notification, NotificationKind, NotificationState
from app.requests.models import DeliveryMethod, EvidenceRequest, RequestItem, RequestStatus
from app.sop.models import StepOutcome, StepRecord

__all__ = [
    "Agency",
    "AgencyKind",
    "BastCounter",
    "Base",
    "Camera",
    "Delivery",
    "DeliveryLink",
    "DeliveryMethod",
    "DeliveryState",
    "DownloadSession",
    "DriveUploadSession",
    "EvidencePackage",
    "EvidenceRequest",
    "Handover",
    "Export",
    "ExportAttempt",
    "ExportState",
    "JobLease",
    "Notification",
    "NotificationKind",
    "NotificationState",
    "Nvr",
    "NvrSlot",
    "NvrVendor",
    "RequestItem",
    "RequestStatus",
    "Role",
    "StepOutcome",
    "StepRecord",
    "ThrottleCounter",
    "User",
    "WebSession",
]
