"""Domain errors and the one error shape of the API.

Services raise a `DomainError` subclass; the handlers in `autofy.error_handlers` turn it into

    {"error": {"code": "not_found", "message": "...", "details": [{"field": "...", "message": "..."}]}}

This module imports no web framework, so a worker or a command that raises these errors does not
load one (see `autofy.error_handlers` for the HTTP side).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypedDict

from pydantic import BaseModel, Field


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


class OverloadedError(DomainError):
    """The server cannot take this request now without falling behind; nothing was recorded, and
    the same request sent again after `Retry-After` seconds is welcome."""

    status_code = 503
    code = "overloaded"
    default_message = "The server is busy; nothing was recorded. Send the request again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
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


ERROR_DESCRIPTIONS: Mapping[int, str] = {
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
    503: "Busy (or the database is away): nothing was recorded; send it again after Retry-After seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed statuses, each with the API's error shape."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]} for status in statuses
    }


def error_body(code: str, message: str, details: Sequence[ErrorDetail] = ()) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details)}}
