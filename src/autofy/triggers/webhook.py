"""Webhook deliveries: who may start a run through `/hooks/<token>`, and what the run receives.

A delivery is accepted when its token names an active webhook workflow and, where the workflow
asks for signatures (`trigger_config.require_signature`, or a `trigger_config.signing_secret` of
its own), it carries a fresh valid one:

    X-Autofy-Timestamp: <Unix seconds>
    X-Autofy-Signature: sha256=<hex HMAC-SHA256(signing secret, "<timestamp>." + body)>

A workflow whose trigger step is Telegram's new_message is delivered to by Telegram, which
proves itself with the secret token instead (`triggers.telegram`).

Everything else (unknown token, paused workflow, bad or stale signature or secret token) gets the
same 404 after the same work, so a caller learns nothing about which tokens exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.engine.service import start_execution
from autofy.errors import BadRequestError, NotFoundError, ValidationFailedError
from autofy.input_guard import MAX_JSON_DEPTH, UnstorableInput, check_storable
from autofy.triggers import repository, telegram
from autofy.triggers.schemas import WebhookIgnored

# Larger bodies are refused with 413 before they are read in full. Trigger data is stored with the
# execution (the engine caps it at 1 MiB as JSON, and a raw body grows by a third in base64).
MAX_WEBHOOK_BODY_BYTES = 512 * 1024
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_IDEMPOTENCY_KEY_LENGTH = 255
TIMESTAMP_HEADER = "x-autofy-timestamp"
SIGNATURE_HEADER = "x-autofy-signature"
IDEMPOTENCY_HEADER = "idempotency-key"
# Credentials of the caller never reach the run's trigger data (nor its logs).
_PRIVATE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", SIGNATURE_HEADER})
# Compared against when the token is unknown, so that path costs what a real check costs.
_DECOY_SECRET = secrets.token_urlsafe(32)
NOT_FOUND_MESSAGE = "No active webhook at this address."


def new_token() -> str:
    """The secret part of a webhook URL: 32 random bytes."""
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (what a sender computes)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Delivery:
    """An HTTP request to a webhook URL, as read by the router."""

    content_type: str
    body: bytes
    headers: Sequence[tuple[str, str]]  # names in lower case, in the order received
    query: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


async def deliver(
    session: AsyncSession, token: str, delivery: Delivery, *, now: datetime
) -> uuid.UUID | WebhookIgnored:
    """Start the run a delivery asks for and return its id (the first one's, for a repeated
    Idempotency-Key or Telegram update). Runs in a service-role transaction: executions are the
    service's to write."""
    target = await repository.webhook_target(session, token)
    signature_ok = _signature_valid(target.signing_secret if target else _DECOY_SECRET, delivery, now)
    telegram_secret_ok = telegram.secret_valid(
        target.generated_secret if target else _DECOY_SECRET, delivery.header(telegram.SECRET_HEADER)
    )
    if target is None or not target.accepting:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    if telegram.names_trigger(target.trigger_step):
        # Telegram proves itself with the secret token set with the webhook, not with a signature.
        if not telegram_secret_ok:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        execution_id = await telegram.start_run(
            session, workflow_id=target.workflow_id, trigger_step=target.trigger_step, body=delivery.body
        )
        return execution_id or WebhookIgnored(
            reason="No run started: the update is not a message the trigger's filters accept, or the "
            "run was refused (then recorded as a failed execution)."
        )
    if target.require_signature and not signature_ok:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    idempotency_key = delivery.header(IDEMPOTENCY_HEADER)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailedError(
            f"The Idempotency-Key header must have 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            details=[{"field": "headers.idempotency-key", "message": "Too long or empty."}],
        )
    return await start_execution(
        session,
        workflow_id=target.workflow_id,
        trigger_type="webhook",
        trigger_data=trigger_data(delivery),
        dedupe_key=f"webhook:{idempotency_key}" if idempotency_key else None,
    )


def _signature_valid(secret: str, delivery: Delivery, now: datetime) -> bool:
    timestamp = delivery.header(TIMESTAMP_HEADER) or ""
    presented = delivery.header(SIGNATURE_HEADER) or ""
    expected = sign(secret, timestamp, delivery.body)
    matches = hmac.compare_digest(presented.encode(), expected.encode())
    fresh = timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) <= SIGNATURE_TOLERANCE_SECONDS
    return matches and fresh


def trigger_data(delivery: Delivery) -> dict[str, Any]:
    """`{"body": …, "headers": {…}, "query": {…}}`; the body is the parsed JSON, the form's fields,
    or `{"raw": text, "content_type": …}`. A body that is not UTF-8, or that holds text PostgreSQL
    cannot store (a NUL character, an unpaired surrogate, NaN), is kept whole as base64:
    `{"raw": …, "content_type": …, "encoding": "base64"}`, with `"unstorable"` naming the field
    in the second case. A JSON body nested too deep is refused with 400."""
    headers = {name: value for name, value in delivery.headers if name not in _PRIVATE_HEADERS}
    return {"body": _storable_body(delivery), "headers": headers, "query": _fields(delivery.query)}


def _storable_body(delivery: Delivery) -> Any:
    body = _body(delivery)
    try:
        check_storable(body, "")
    except UnstorableInput as error:
        if error.too_deep:
            raise BadRequestError(
                f"The body {error.problem}.", details=[{"field": error.field, "message": error.problem}]
            ) from None
        return _base64(delivery) | {"unstorable": f"{error.field} {error.problem}"}
    return body


def _body(delivery: Delivery) -> Any:
    media_type = delivery.content_type.split(";", 1)[0].strip().casefold()
    if not delivery.body:
        return {}
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(delivery.body)
        except RecursionError:
            message = f"nests more than {MAX_JSON_DEPTH} levels deep"
            raise BadRequestError(
                f"The body {message}.", details=[{"field": "body", "message": message}]
            ) from None
        except ValueError:
            raise ValidationFailedError(
                "The body is not valid JSON.", details=[{"field": "body", "message": "Not valid JSON."}]
            ) from None
    if media_type == "application/x-www-form-urlencoded":
        try:
            text = delivery.body.decode()
        except UnicodeDecodeError:
            raise ValidationFailedError(
                "The form body is not UTF-8.", details=[{"field": "body", "message": "Not UTF-8."}]
            ) from None
        return _fields(
            [(k, v) for k, values in parse_qs(text, keep_blank_values=True).items() for v in values]
        )
    try:
        return {"raw": delivery.body.decode(), "content_type": delivery.content_type}
    except UnicodeDecodeError:
        return _base64(delivery)


def _base64(delivery: Delivery) -> dict[str, Any]:
    return {
        "raw": base64.b64encode(delivery.body).decode(),
        "content_type": delivery.content_type,
        "encoding": "base64",
    }


def _fields(pairs: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Form or query fields: a name given once maps to its value, a repeated one to the list."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def webhook_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/hooks/{token}"
