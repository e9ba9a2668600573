"""Domain errors, the one error shape of the API, and the handlers that produce it.

Services raise a `DomainError` subclass; the handlers installed by `install_error_handling` turn it
(and FastAPI's validation errors, Starlette's HTTP errors, and anything unexpected) into

    {"error": {"code": "not_found", "message": "...", "details": [{"field": "...", "message": "..."}]}}

so a client parses one shape whatever went wrong. Unexpected errors are logged with their
traceback and answered with a fixed message: internals never reach the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autofy.db.engine import DATABASE_ERRORS, database_unavailable, value_refused

logger = logging.getLogger(__name__)


class ErrorDetail(TypedDict):
    field: str
    message: str


class DomainError(Exception):
    """A failure with a meaning for the client: it carries its HTTP status and error code."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request cannot be processed."
    # Set on errors raised after writes that must stand even though the request fails (the audit
    # row of a failed sign-in, a session revoked because a refresh token was reused): the request
    # edge commits the transaction before answering with the error.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, message: str | None = None, *, details: Sequence[ErrorDetail] = ()) -> None:
        self.message = message or self.default_message
        self.details: list[ErrorDetail] = list(details)
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(DomainError):
    """Input the API cannot take in at all (nested too deep, text in a webhook's query string
    that cannot be stored): 400, the base's status, under a name that says so."""


class NotFoundError(DomainError):
    """Also the answer for a row that belongs to someone else: the two must be indistinguishable."""

    status_code = 404
    code = "not_found"
    default_message = "The resource does not exist."


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class ValidationFailedError(DomainError):
    status_code = 422
    code = "validation_failed"
    default_message = "The request is not valid."


class UnauthorizedError(DomainError):
    status_code = 401
    code = "unauthorized"
    default_message = "Authentication is required."

    @property
    def headers(self) -> dict[str, str]:
        # RFC 6750 §3: a 401 names the scheme the client should use.
        return {"WWW-Authenticate": 'Bearer realm="autofy"'}


class ForbiddenError(DomainError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class PaymentRequiredError(DomainError):
    status_code = 402
    code = "payment_required"
    default_message = "Your plan's credits are used up."


class PayloadTooLargeError(DomainError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class RateLimitedError(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; try again later."

    def __init__(
        self, retry_after: int, message: str | None = None, *, details: Sequence[ErrorDetail] = ()
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# --- the error shape, as the OpenAPI document describes it ----------------------------------------


class ErrorDetailModel(BaseModel):
    field: str = Field(description="The failing field, as a dotted path (`steps.0.configuration`).")
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`, `validation_failed`.")
    message: str = Field(description="A sentence for a person.")
    details: list[ErrorDetailModel] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorInfo


_ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "The request is malformed.",
    401: "Missing, expired, revoked or invalid credentials.",
    402: "The plan's credits are used up.",
    403: "The credentials lack the permission this operation needs.",
    404: "The resource does not exist (or belongs to someone else).",
    409: "The request conflicts with existing data.",
    413: "The request body is larger than the server accepts.",
    422: "The request failed validation; `details` names each failing field.",
    429: "Too many requests; the Retry-After header says when to try again.",
    500: "An unexpected error; nothing about it is disclosed.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed statuses, each with the API's error shape."""
    return {
        status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses
    }


def error_body(code: str, message: str, details: Sequence[ErrorDetail] = ()) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details)}}


# --- handlers --------------------------------------------------------------------------------------

_HTTP_STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _field_path(location: Sequence[int | str]) -> str:
    # ("body", "steps", 0, "name") → "steps.0.name"; ("query", "limit") → "query.limit".
    parts = list(location)
    if len(parts) > 1 and parts[0] == "body":
        parts = parts[1:]
    return ".".join(str(part) for part in parts)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status_code,
        headers=error.headers,
    )


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details: list[ErrorDetail] = []
    for problem in error.errors():
        location = problem.get("loc", ())
        if problem.get("type") == "json_invalid":
            # FastAPI puts the character offset where a field name would be.
            position = location[-1] if len(location) > 1 else "?"
            details.append(
                {"field": "body", "message": f"The body is not valid JSON (at character {position})."}
            )
            continue
        if problem.get("type") == "extra_forbidden":
            message = "This field cannot be set."
        else:
            message = str(problem.get("msg", "Invalid value."))
        details.append({"field": _field_path(location), "message": message})
    return JSONResponse(
        error_body("validation_failed", "The request is not valid.", details), status_code=422
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_STATUS_CODES.get(error.status_code, "http_error")
    message = error.detail if isinstance(error.detail, str) else "The request cannot be processed."
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette names the methods of the first route on the path; RFC 9110 wants all of them.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(error_body(code, message), status_code=error.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    # Asked of the routes themselves (included routers answer `matches` for their own routes).
    return [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    if database_unavailable(error):
        # A restart or failover in progress: the client may retry; the pools reconnect on their own.
        logger.warning("database unavailable on %s %s: %r", request.method, request.url.path, error)
        return JSONResponse(
            error_body("database_unavailable", "The database is unavailable; try again in a few seconds."),
            status_code=503,
            headers={"Retry-After": "5"},
        )
    if value_refused(error):
        # The last line of defence behind validation (refused input is checked before it gets
        # here: tests/test_input_guard.py), for a value only the database knows it cannot hold.
        logger.warning("value refused by the database on %s %s: %r", request.method, request.url.path, error)
        return JSONResponse(
            error_body(
                "validation_failed",
                "A value in the request is outside what can be stored (a date too close to year 1 "
                "or 9999 once in UTC, a number too large); send a value within range.",
            ),
            status_code=422,
        )
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status_code=500,
    )


def install_error_handling(app: FastAPI, *, max_request_bytes: int) -> None:
    """Register the handlers and the body size limit, and document the error shape in OpenAPI."""
    handlers: list[tuple[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]]] = [
        (DomainError, _domain_error),
        (RequestValidationError, _validation_error),
        (StarletteHTTPException, _http_error),
        # Handled where the app's own handlers run (not re-raised to the server as a crash): a
        # database away is a 503 to retry, not an incident.
        *((error_class, _unexpected_error) for error_class in DATABASE_ERRORS),
        (Exception, _unexpected_error),
    ]
    for exception_class, handler in handlers:
        app.add_exception_handler(exception_class, handler)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_request_bytes)
    _document_errors(app)


# --- request body size limit ---------------------------------------------------------------------


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`: refused up front on Content-Length, and while streaming.

    A chunked body (no Content-Length) or one whose Content-Length lies is counted as it arrives.
    Reading past the limit raises in the application, which may turn that into any error of its
    own (FastAPI answers 400 for an unreadable body); the response it starts is then replaced by
    the 413, so the client always learns the real reason.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return

        received = 0
        exceeded = False
        response_replaced = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise PayloadTooLargeError(self._message)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_replaced
            if exceeded:
                if message["type"] == "http.response.start" and not response_replaced:
                    response_replaced = True
                    await self._too_large(send)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    @property
    def _message(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(error_body(PayloadTooLargeError.code, self._message), status_code=413)
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --- OpenAPI -------------------------------------------------------------------------------------

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _document_errors(app: FastAPI) -> None:
    """Every operation documents the error shape: 422 and 413 where it takes input, 401 and 403
    where it needs credentials, 500 everywhere; routes add their own (404, 409, 429) with
    `error_responses(...)`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorResponse"] = error_schema
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                _add_error_responses(operation)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_responses(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = [500]
    takes_input = "requestBody" in operation or bool(operation.get("parameters"))
    if takes_input:
        statuses.append(422)
    if "requestBody" in operation:
        statuses += [400, 413]
    if operation.get("security"):
        statuses += [401, 403]
    reference = {"$ref": "#/components/schemas/ErrorResponse"}
    for missing in statuses:
        responses.setdefault(str(missing), {"description": _ERROR_DESCRIPTIONS[missing]})
    for status, response in responses.items():
        # FastAPI's own 422 schema describes its default body, which the handler replaces; a
        # response a route documented itself (the health check's 503) keeps its model.
        if status.isdigit() and int(status) >= 400 and (status == "422" or "content" not in response):
            response["content"] = {"application/json": {"schema": reference}}
