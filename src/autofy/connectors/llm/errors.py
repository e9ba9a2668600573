"""Turn what the LangChain clients raise into the connector errors the engine understands.

LangChain wraps each SDK's exception (openai, anthropic, google-genai) and keeps the original as
`__cause__`, so the chain is walked to the SDK error that still carries the HTTP status and
response: 401/403 are authentication failures, 429 and 5xx are transient (Retry-After honoured),
other 4xx are permanent with the provider's own message; timeouts and connection failures are
transient. A message never contains the API key, even where a provider echoes it back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2

from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorError,
    PermanentError,
    TransientError,
)

# Gemini answers 400 INVALID_ARGUMENT (not 401) for a wrong key; this reason marks it.
GEMINI_INVALID_KEY_REASON = "API_KEY_INVALID"

# The openai and anthropic SDKs run on httpx2 (a fork with its own types), google-genai on httpx.
Headers = httpx.Headers | httpx2.Headers
HttpResponse = httpx.Response | httpx2.Response


def redact(message: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return message


def retry_after_seconds(headers: Headers | None) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the engine's own backoff applies


def provider_message(body: Any) -> str | None:
    """The human message in OpenAI's, Anthropic's or Gemini's error body (all nest `error`)."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return None


def gemini_key_invalid(body: Any) -> bool:
    error = body.get("error", body) if isinstance(body, dict) else {}
    details = error.get("details", []) if isinstance(error, dict) else []
    return any(
        isinstance(detail, dict) and detail.get("reason") == GEMINI_INVALID_KEY_REASON for detail in details
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _response_body(response: HttpResponse | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except (ValueError, httpx.ResponseNotRead, httpx2.ResponseNotRead):
        return None


def _from_status(
    display_name: str,
    status: int,
    detail: str,
    *,
    headers: Headers | None,
    key_invalid: bool = False,
) -> ConnectorError:
    message = f"{display_name} answered {status}: {detail}"
    if status in (401, 403) or key_invalid:
        return AuthenticationError(message, status_code=status)
    if status == 429 or status >= 500:
        return TransientError(message, status_code=status, retry_after=retry_after_seconds(headers))
    return PermanentError(message, status_code=status)


def _classify(error: BaseException, display_name: str) -> ConnectorError | None:
    if isinstance(error, ConnectorError):
        return error
    # The SDKs are imported here, not with the module: they take seconds to import, and neither
    # the connection tests nor a worker's start-up need them (a model call has loaded them).
    import anthropic
    import openai
    from google.genai import errors as genai_errors

    timeouts = (
        openai.APITimeoutError,
        anthropic.APITimeoutError,
        httpx.TimeoutException,
        httpx2.TimeoutException,
        TimeoutError,
    )
    connection_failures = (
        openai.APIConnectionError,
        anthropic.APIConnectionError,
        httpx.TransportError,
        httpx2.TransportError,
    )
    malformed = (
        openai.APIResponseValidationError,
        anthropic.APIResponseValidationError,
        json.JSONDecodeError,
    )
    if isinstance(error, openai.APIStatusError | anthropic.APIStatusError):
        body = _response_body(error.response)
        detail = provider_message(body) or error.response.reason_phrase
        return _from_status(display_name, error.status_code, detail, headers=error.response.headers)
    if isinstance(error, genai_errors.APIError):
        response = error.response if isinstance(error.response, httpx.Response | httpx2.Response) else None
        body = error.details  # the parsed error body
        detail = error.message or provider_message(body) or str(error.status)
        return _from_status(
            display_name,
            error.code,
            detail,
            headers=response.headers if response is not None else None,
            key_invalid=error.code == 400 and gemini_key_invalid(body),
        )
    if isinstance(error, timeouts):
        return TransientError(f"{display_name} did not answer in time ({type(error).__name__})")
    if isinstance(error, malformed):
        return TransientError(f"{display_name} answered with a malformed body ({type(error).__name__})")
    if isinstance(error, connection_failures):
        return TransientError(f"could not reach {display_name}: {type(error).__name__}")
    return None


def connector_error(error: BaseException, display_name: str, secrets: Sequence[str]) -> ConnectorError:
    """The connector error for anything a chat model raised, its message free of `secrets`.

    A connector error anywhere in the chain wins: the outbound guard's refusal (a permanent
    `DestinationRefused`) reaches here wrapped in the SDK's connection error, and must not be
    retried as a network failure.
    """
    causes = list(_causes(error))
    own = [cause for cause in causes if isinstance(cause, ConnectorError)]
    for cause in own or causes:
        classified = _classify(cause, display_name)
        if classified is not None:
            break
    else:
        from langchain_core.exceptions import ModelError

        # A LangChain-classified failure from a path the SDK checks above do not know.
        if isinstance(error, ModelError):
            kind = TransientError if error.is_retryable else PermanentError
            classified = kind(f"{display_name} failed: {error}")
        else:
            return PermanentError(redact(f"{display_name} failed: {type(error).__name__}: {error}", secrets))
    classified.message = redact(classified.message, secrets)
    classified.args = (classified.message,)
    return classified


@asynccontextmanager
async def provider_errors(display_name: str, secrets: Sequence[str]) -> AsyncIterator[None]:
    """Run a model call; whatever it raises leaves as a `ConnectorError` without the secrets."""
    try:
        yield
    except Exception as error:  # cancellation is a BaseException and passes through
        raise connector_error(error, display_name, secrets) from None
