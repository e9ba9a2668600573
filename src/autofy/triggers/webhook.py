"""Webhook deliveries: who may start a run through `/hooks/<token>`, and what the run receives.

A delivery is accepted when its token names an active webhook workflow and, where the workflow
asks for signatures (`trigger_config.require_signature`, or a `trigger_config.signing_secret` of
its own), it carries a fresh valid one, in either of two header sets:

    X-Autofy-Timestamp: <Unix seconds>
    X-Autofy-Signature: sha256=<hex HMAC-SHA256(signing secret, "<timestamp>." + body)>

    webhook-id: <the sender's delivery id>                       (Standard Webhooks)
    webhook-timestamp: <Unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(signing secret, "<id>.<timestamp>." + body)> …

A signed delivery starts one run, however often it is sent: an Autofy signature is remembered
until its timestamp expires (a repeat gets the first run's id), a Standard Webhooks delivery is
deduplicated on its `webhook-id` (the sender's retries included).

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
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.engine.service import StartRequest, start_execution
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
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_KEY_PREFIX = "whsec_"
# Credentials of the caller never reach the run's trigger data (nor its logs).
_PRIVATE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", SIGNATURE_HEADER, STANDARD_SIGNATURE_HEADER}
)
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


def standard_secret(secret: str) -> str:
    """The signing secret as Standard Webhooks libraries take it: `whsec_` + base64 of the key."""
    return STANDARD_KEY_PREFIX + base64.b64encode(secret.encode()).decode()


def sign_standard(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` value a Standard Webhooks sender computes with `standard_secret`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Signature:
    """A delivery's signature, checked: whether it holds, and what recognises a repeat of it."""

    valid: bool
    # An Autofy signature: remembered until `expires_at`, so a replay starts nothing new.
    replay_key: str | None = None
    expires_at: datetime | None = None
    # A Standard Webhooks `webhook-id`: the run's dedupe key (the sender's retries reuse it).
    delivery_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """An HTTP request to a webhook URL, as read by the router."""

    content_type: str
    body: bytes
    headers: Sequence[tuple[str, str]]  # names in lower case, in the order received
    query: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


@dataclass(frozen=True)
class CheckedDelivery:
    """A delivery its target accepts, and what starting its run takes."""

    target: repository.WebhookTarget
    # The run to start; None for a Telegram update (its trigger data is the update, filtered).
    request: StartRequest | None
    # An Autofy signature to remember until it expires, so a replay starts nothing new.
    replay_key: str | None = None
    replay_expires_at: datetime | None = None

    @property
    def only_a_start(self) -> StartRequest | None:
        """The run to start when starting it is all the delivery takes (most deliveries): such
        deliveries arriving together start in one transaction (`triggers.intake`)."""
        return self.request if self.replay_key is None else None


def check_delivery(
    target: repository.WebhookTarget | None, delivery: Delivery, now: datetime
) -> CheckedDelivery:
    """Whether `target` (the token's, None for an unknown token) accepts `delivery`, by every rule
    that needs no writing; raises the error its sender gets otherwise (the same 404 for an unknown
    token, a paused workflow or a bad signature, after the same work)."""
    signature = check_signature(target.signing_secret if target else _DECOY_SECRET, delivery, now)
    telegram_secret_ok = telegram.secret_valid(
        target.generated_secret if target else _DECOY_SECRET, delivery.header(telegram.SECRET_HEADER)
    )
    if target is None or not target.accepting:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    if telegram.names_trigger(target.trigger_step):
        # Telegram proves itself with the secret token set with the webhook, not with a signature.
        if not telegram_secret_ok:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        return CheckedDelivery(target, request=None)
    if target.require_signature and not signature.valid:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    idempotency_key = delivery.header(IDEMPOTENCY_HEADER)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailedError(
            f"The Idempotency-Key header must have 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            details=[{"field": "headers.idempotency-key", "message": "Too long or empty."}],
        )
    request = StartRequest(
        workflow_id=target.workflow_id,
        trigger_type="webhook",
        trigger_data=trigger_data(delivery),
        dedupe_key=_dedupe_key(signature, idempotency_key),
    )
    if signature.valid and signature.replay_key is not None:
        return CheckedDelivery(target, request, signature.replay_key, signature.expires_at)
    return CheckedDelivery(target, request)


async def deliver(
    session: AsyncSession, token: str, delivery: Delivery, *, now: datetime
) -> uuid.UUID | WebhookIgnored:
    """Start the run a delivery asks for and return its id (the first one's, for a repeated
    Idempotency-Key or Telegram update). Runs in a service-role transaction: executions are the
    service's to write."""
    checked = check_delivery(await repository.webhook_target(session, token), delivery, now)
    return await start_checked(session, checked, delivery)


async def start_checked(
    session: AsyncSession, checked: CheckedDelivery, delivery: Delivery
) -> uuid.UUID | WebhookIgnored:
    """`deliver` for a delivery `check_delivery` has accepted already (in a service-role
    transaction; starting the run checks again that the workflow is active)."""
    workflow_id = checked.target.workflow_id
    if checked.request is None:
        trigger_step = checked.target.trigger_step
        assert trigger_step is not None, "a Telegram delivery's workflow starts with its trigger step"
        execution_id = await telegram.start_run(
            session, workflow_id=workflow_id, trigger_step=trigger_step, body=delivery.body
        )
        return execution_id or WebhookIgnored(
            reason="No run started: the update is not a message the trigger's filters accept, or the "
            "run was refused (then recorded as a failed execution)."
        )
    if checked.replay_key is not None:
        assert checked.replay_expires_at is not None
        claimed = await repository.claim_signature(
            session, workflow_id, checked.replay_key, expires_at=checked.replay_expires_at
        )
        if not claimed:
            # The same signed delivery again (a replay, or a retry of the very same request).
            return await repository.signature_run(session, workflow_id, checked.replay_key)
    request = checked.request
    execution_id = await start_execution(
        session,
        workflow_id=workflow_id,
        trigger_type=request.trigger_type,
        trigger_data=request.trigger_data,
        dedupe_key=request.dedupe_key,
    )
    if checked.replay_key is not None:
        await repository.record_signature_run(session, workflow_id, checked.replay_key, execution_id)
    return execution_id


def _dedupe_key(signature: Signature, idempotency_key: str | None) -> str | None:
    # A signed webhook-id wins over an unsigned Idempotency-Key: a replay cannot change it.
    if signature.valid and signature.delivery_id is not None:
        return f"webhook-id:{signature.delivery_id}"
    return f"webhook:{idempotency_key}" if idempotency_key else None


def check_signature(secret: str, delivery: Delivery, now: datetime) -> Signature:
    """Check the Standard Webhooks headers when present, else Autofy's (the same work either way
    for a given header set, whether the secret is real or the decoy)."""
    if delivery.header(STANDARD_SIGNATURE_HEADER) is not None:
        return _check_standard(secret, delivery, now)
    timestamp = delivery.header(TIMESTAMP_HEADER) or ""
    presented = delivery.header(SIGNATURE_HEADER) or ""
    expected = sign(secret, timestamp, delivery.body)
    matches = hmac.compare_digest(presented.encode(), expected.encode())
    expires_at = _expiry(timestamp, now)
    valid = matches and expires_at is not None
    return Signature(valid, replay_key=expected, expires_at=expires_at)


def _check_standard(secret: str, delivery: Delivery, now: datetime) -> Signature:
    webhook_id = delivery.header(STANDARD_ID_HEADER) or ""
    timestamp = delivery.header(STANDARD_TIMESTAMP_HEADER) or ""
    expected = sign_standard(secret, webhook_id, timestamp, delivery.body).encode()
    # Several space-separated signatures may come (a sender rotating its secret): one must match.
    presented = (delivery.header(STANDARD_SIGNATURE_HEADER) or "").split()
    matches = [hmac.compare_digest(candidate.encode(), expected) for candidate in presented]
    well_formed_id = 0 < len(webhook_id) <= MAX_IDEMPOTENCY_KEY_LENGTH
    valid = any(matches) and well_formed_id and _expiry(timestamp, now) is not None
    return Signature(valid, delivery_id=webhook_id)


def _expiry(timestamp: str, now: datetime) -> datetime | None:
    """When a signature made at `timestamp` stops being accepted; None when it is not fresh now."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return None
    signed_at = int(timestamp)
    if abs(now.timestamp() - signed_at) > SIGNATURE_TOLERANCE_SECONDS:
        return None
    return datetime.fromtimestamp(signed_at + SIGNATURE_TOLERANCE_SECONDS, UTC)


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
