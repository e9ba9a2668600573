"""HTTP routes of triggers: webhook deliveries (`/hooks/<token>`) and the owner's webhook routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from autofy.auth.dependencies import AppSettings, Principal, RequestMeta, UserSession, require
from autofy.errors import BadRequestError, DomainError, PayloadTooLargeError, error_responses
from autofy.observability import metrics
from autofy.triggers import service, webhook
from autofy.triggers.intake import WebhookIntake
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.schemas import WebhookAccepted, WebhookEndpoint, WebhookIgnored

hooks_router = APIRouter(prefix="/hooks", tags=["webhooks"])
router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
_DELIVERY_RESPONSES = {
    status.HTTP_200_OK: {"model": WebhookIgnored, "description": "Accepted, but no run started."},
    **error_responses(400, 402, 404, 413, 422, 503),
}


@hooks_router.post(
    "/{token}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=_DELIVERY_RESPONSES,
    operation_id="deliver_webhook",
)
@hooks_router.put(
    "/{token}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=_DELIVERY_RESPONSES,
    operation_id="deliver_webhook_put",
)
async def receive_delivery(token: str, request: Request) -> WebhookAccepted | JSONResponse:
    """Start a run of the webhook workflow this URL belongs to.

    The body may be JSON, a form or anything else (kept as text). Send an `Idempotency-Key` header
    to make retries safe: a repeated key starts nothing new and answers with the first run's id.
    202 means the run is recorded and queued. Unknown URLs, paused workflows and bad signatures
    all get the same 404. When Autofy cannot take more without falling behind it answers 503 with
    `Retry-After` at once and records nothing (triggers.admission): send the same delivery again after
    that many seconds. A workflow started by Telegram's new_message takes Telegram's updates
    (checked by `X-Telegram-Bot-Api-Secret-Token`) and answers 200 to one its filters leave out.
    """
    try:
        body = await _read_body(request, webhook.MAX_WEBHOOK_BODY_BYTES)
        delivery = webhook.Delivery(
            content_type=request.headers.get("content-type", ""),
            body=body,
            headers=list(request.headers.items()),
            query=list(request.query_params.multi_items()),
        )
        # The caller is anonymous (the token is its only credential) and executions are written by
        # the service role only, in a transaction that commits before the answer: a 202 names a
        # durable execution. Deliveries arriving together share that transaction (triggers.intake).
        intake: WebhookIntake = request.app.state.webhook_intake
        outcome = await intake.deliver(token, delivery, now=datetime.now(UTC))
    except DomainError as error:
        # By the answer's code only: /metrics must not tell an unknown token from a paused one.
        metrics.webhook_rejections.labels(error.code).inc()
        raise
    if isinstance(outcome, WebhookIgnored):
        return JSONResponse(outcome.model_dump(), status_code=status.HTTP_200_OK)
    return WebhookAccepted(execution_id=outcome)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 on its declared length or as soon as it grows past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"A webhook body may have at most {limit} bytes.")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise PayloadTooLargeError(f"A webhook body may have at most {limit} bytes.")
    except ClientDisconnect:
        # The sender hung up mid-body (a load generator stopping, a timeout): nothing to record,
        # and not the server's error.
        raise BadRequestError("The request ended before its body did.") from None
    return bytes(body)


@router.get("/{workflow_id}/webhook", response_model=WebhookEndpoint, responses=error_responses(404, 409))
async def get_webhook(
    workflow_id: uuid.UUID, principal: Reader, session: UserSession, settings: AppSettings
) -> WebhookEndpoint:
    """The workflow's webhook URL (once it has been activated), whether signing is required, and
    the signing secret."""
    return await service.webhook_endpoint(session, workflow_id, public_url=settings.external_url)


@router.post(
    "/{workflow_id}/webhook/rotate", response_model=WebhookEndpoint, responses=error_responses(404, 409, 422)
)
async def rotate_webhook(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, settings: AppSettings, meta: RequestMeta
) -> WebhookEndpoint:
    """Replace the webhook's URL and signing secret; the old URL stops working at once. An active
    workflow started by Telegram's new_message has Telegram deliver to the new URL (422 when
    Telegram refuses, and nothing changes)."""
    return await service.rotate_webhook(
        session,
        workflow_id,
        user_id=principal.user_id,
        connectors=ConnectorAccess.from_settings(settings),
        meta=meta,
    )
