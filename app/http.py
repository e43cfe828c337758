"""The one error envelope, its handlers, and its declaration in OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import disk
from app.errors import SaksiError

logger = logging.getLogger(__name__)

# A row id in a path: 1 to the largest 64-bit signed integer, which both databases store; a
# larger one used to reach the database and answer 500 (issue 17). Out of range answers 422.
MAX_ID = 2**63 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


class FieldError(BaseModel):
    field: str
    message: str


class ErrorEnvelope(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] | None = None


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("Not authenticated, or the token is invalid or expired"),
    403: _described("The user's role or agency may not do this"),
    404: _described("Not found"),
    409: _described("Conflicts with the current state"),
    422: _described("The input is invalid"),
}


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """Turn Pydantic error dicts into field/message pairs, dropping the transport prefix."""
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "form")]
        result.append(FieldError(field=".".join(location) or "-", message=str(error["msg"])))
    return result


def validation_response(errors: Sequence[Any]) -> JSONResponse:
    fields = field_errors(errors)
    detail = "; ".join(f"{item.field}: {item.message}" for item in fields)
    return _envelope(422, "ValidationFailed", detail or "invalid input", fields)


def _envelope(
    status: int, code: str, detail: str, fields: list[FieldError] | None = None
) -> JSONResponse:
    body = ErrorEnvelope(error=code, detail=detail, fields=fields)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _saksi_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SaksiError)
    if exc.status_code >= 500:
        logger.error("%s: %s", exc.code, exc.detail)
    fields = [FieldError.model_validate(item) for item in exc.extra.get("fields", [])]
    return _envelope(exc.status_code, exc.code, exc.detail, fields or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(exc.errors())


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    code = "".join(word.capitalize() for word in phrase.replace("-", " ").split())
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return _envelope(exc.status_code, code, detail)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    if disk.is_disk_full(exc):
        # Nothing was written (the transaction rolled back): the client may try again once
        # space is freed; RFC 4918's 507, the one status that says so.
        logger.error("a write failed for lack of disk space: %s", exc)
        detail = "the server's disk is full; nothing was saved, try again later"
        return _envelope(507, "InsufficientStorage", detail)
    logger.exception("unhandled error", exc_info=exc)
    return _envelope(500, "InternalError", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise into the one envelope."""
    app.add_exception_handler(SaksiError, _saksi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
