"""Errors the service reports to its clients.

Every error carries its HTTP status and a code; one handler turns it into the one envelope
`{"error": "<Code>", "detail": "<message>"}`.

    SaksiError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)          InvalidCredentials, InvalidToken
    ├── Forbidden (403)             RoleNotPermitted, NotYourAgency
    ├── NotFound (404)              RequestNotFound, AgencyNotFound, NvrNotFound, CameraNotFound,
    │                               UserNotFound
    ├── Conflict (409)              DuplicateLetterNumber, InvalidTransition, RequestClosed,
    │                               AlreadyExists
    ├── PayloadTooLarge (413)       LetterTooLarge
    ├── UnsupportedMediaType (415)  LetterNotPdf
    ├── Unprocessable (422)         ValidationFailed, InvalidTimeWindow, WindowTooLong,
    │                               WindowInFuture, UnknownCamera, CameraInactive,
    │                               AgencyNotAuthorized, OperatorNotFound
    └── ServiceUnavailable (503)
"""

from __future__ import annotations

from typing import Any, ClassVar


class SaksiError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "InternalError"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The code is the class name unless a subclass sets one explicitly.
        if "code" not in cls.__dict__:
            cls.code = cls.__name__


class BadRequest(SaksiError):
    status_code = 400


class Unauthorized(SaksiError):
    status_code = 401


class InvalidCredentials(Unauthorized):
    pass


class InvalidToken(Unauthorized):
    pass


class Forbidden(SaksiError):
    status_code = 403


class RoleNotPermitted(Forbidden):
    pass


class NotYourAgency(Forbidden):
    pass


class NotFound(SaksiError):
    status_code = 404


class RequestNotFound(NotFound):
    pass


class AgencyNotFound(NotFound):
    pass


class NvrNotFound(NotFound):
    pass


class CameraNotFound(NotFound):
    pass


class UserNotFound(NotFound):
    pass


class Conflict(SaksiError):
    status_code = 409


class AlreadyExists(Conflict):
    pass


class LastAdministrator(Conflict):
    pass


class DuplicateLetterNumber(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class RequestClosed(Conflict):
    pass


class ExportsIncomplete(Conflict):
    pass


class ClosedBySignedScan(InvalidTransition):
    pass


class PackageMissing(Conflict):
    pass


class DeliveryMissing(Conflict):
    pass


class AlreadyIssued(Conflict):
    pass


class PayloadTooLarge(SaksiError):
    status_code = 413


class LetterTooLarge(PayloadTooLarge):
    pass


class UnsupportedMediaType(SaksiError):
    status_code = 415


class LetterNotPdf(UnsupportedMediaType):
    pass


class Unprocessable(SaksiError):
    status_code = 422


class ValidationFailed(Unprocessable):
    pass


class InvalidTimeWindow(Unprocessable):
    pass


class WindowTooLong(Unprocessable):
    pass


class WindowInFuture(Unprocessable):
    pass


class UnknownCamera(Unprocessable):
    pass


class CameraInactive(Unprocessable):
    pass


class AgencyNotAuthorized(Unprocessable):
    pass


class OperatorNotFound(Unprocessable):
    pass


class ServiceUnavailable(SaksiError):
    status_code = 503
