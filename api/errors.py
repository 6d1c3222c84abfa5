"""One error shape for every failure: ``{"error": {"code", "message", "details": [...]}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorDetail(BaseModel):
    loc: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorBody

    model_config = {
        "json_schema_extra": {
            "examples": [{"error": {"code": "not_found", "message": "contact 42 not found", "details": []}}]
        }
    }


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers


class NotFound(ApiError):
    status_code, code = 404, "not_found"


class Unauthorized(ApiError):
    status_code, code = 401, "unauthorized"


class Forbidden(ApiError):
    status_code, code = 403, "forbidden"


class Conflict(ApiError):
    status_code, code = 409, "conflict"


class Unprocessable(ApiError):
    status_code, code = 422, "validation_error"


class RateLimited(ApiError):
    status_code, code = 429, "rate_limited"


class ServiceUnavailable(ApiError):
    status_code, code = 503, "unavailable"


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              409: "conflict", 422: "validation_error", 429: "rate_limited"}

# Documented on every route, so the OpenAPI shows the one error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {400: "Malformed request (e.g. a body that is not JSON)", 401: "Not authenticated",
                       403: "Role too low", 404: "Not found (or another tenant's)", 409: "Conflict (duplicate, or a state change not allowed)",
                       422: "Invalid input", 429: "Rate limited (see Retry-After)"}.items()
}


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": _loc(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        first = details[0] if details else {"loc": "", "message": "invalid request"}
        return error_response(422, "validation_error", f"{first['loc']}: {first['message']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Same shape for the unforeseen; the details stay in the server log, not in the response.
        return error_response(500, "internal_error", "internal error")

    @app.exception_handler(OverflowError)  # SQLite: an integer beyond 64 bits (e.g. /v1/contacts/9223372036854775808)
    @app.exception_handler(DataError)  # PostgreSQL: the same, or a value too long for its column
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # Found by schemathesis: these were 500s. The input is at fault, so say so.
        return error_response(422, "validation_error", "a value is out of range for its field (an id beyond 64 bits, "
                              "or text longer than the field allows)")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Services check the conflicts they can name; this catches races between two writers.
        return error_response(409, "conflict", "the change conflicts with existing data (a duplicate or a row still in use)")
