"""The handlers that give every API error the one shape of `autofy.errors`, and the body size limit.

The handlers installed by `install_error_handling` turn a `DomainError` (and FastAPI's validation
errors, Starlette's HTTP errors, and anything unexpected) into the API's error shape, so a client
parses one shape whatever went wrong. Unexpected errors are logged with their traceback and
answered with a fixed message: internals never reach the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autofy.db.engine import DATABASE_ERRORS, database_unavailable, value_refused
from autofy.errors import (
    ERROR_DESCRIPTIONS,
    DomainError,
    ErrorDetail,
    ErrorResponse,
    PayloadTooLargeError,
    error_body,
)

logger = logging.getLogger(__name__)

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
        responses.setdefault(str(missing), {"description": ERROR_DESCRIPTIONS[missing]})
    for status, response in responses.items():
        # FastAPI's own 422 schema describes its default body, which the handler replaces; a
        # response a route documented itself (the health check's 503) keeps its model.
        if status.isdigit() and int(status) >= 400 and (status == "422" or "content" not in response):
            response["content"] = {"application/json": {"schema": reference}}
