"""HTTP routes of triggers: webhook deliveries (`/hooks/<token>`) and the owner's webhook routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from autofy.auth.dependencies import AppSettings, Principal, RequestMeta, UserSession, require
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.errors import PayloadTooLargeError, error_responses
from autofy.triggers import service, webhook
from autofy.triggers.schemas import WebhookAccepted, WebhookEndpoint

hooks_router = APIRouter(prefix="/hooks", tags=["webhooks"])
router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]


@hooks_router.api_route(
    "/{token}",
    methods=["POST", "PUT"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=error_responses(402, 404, 413, 422),
)
async def receive_delivery(
    token: str, request: Request, database: Annotated[Database, Depends(get_database)]
) -> WebhookAccepted:
    """Start a run of the webhook workflow this URL belongs to.

    The body may be JSON, a form or anything else (kept as text). Send an `Idempotency-Key` header
    to make retries safe: a repeated key starts nothing new and answers with the first run's id.
    202 means the run is recorded and queued. Unknown URLs, paused workflows and bad signatures
    all get the same 404.
    """
    body = await _read_body(request, webhook.MAX_WEBHOOK_BODY_BYTES)
    delivery = webhook.Delivery(
        content_type=request.headers.get("content-type", ""),
        body=body,
        headers=list(request.headers.items()),
        query=list(request.query_params.multi_items()),
    )
    # The caller is anonymous (the token is its only credential) and executions are written by the
    # service role only. The block commits before the answer: a 202 names a durable execution.
    async with database.service_session() as session:
        execution_id = await webhook.deliver(session, token, delivery, now=datetime.now(UTC))
    return WebhookAccepted(execution_id=execution_id)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 on its declared length or as soon as it grows past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"A webhook body may have at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLargeError(f"A webhook body may have at most {limit} bytes.")
    return bytes(body)


@router.get("/{workflow_id}/webhook", response_model=WebhookEndpoint, responses=error_responses(404, 409))
async def get_webhook(
    workflow_id: uuid.UUID, principal: Reader, session: UserSession, settings: AppSettings
) -> WebhookEndpoint:
    """The workflow's webhook URL (once it has been activated), whether signing is required, and
    the signing secret."""
    return await service.webhook_endpoint(session, workflow_id, public_url=settings.public_url)


@router.post(
    "/{workflow_id}/webhook/rotate", response_model=WebhookEndpoint, responses=error_responses(404, 409)
)
async def rotate_webhook(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, settings: AppSettings, meta: RequestMeta
) -> WebhookEndpoint:
    """Replace the webhook's URL and signing secret; the old URL stops working at once."""
    return await service.rotate_webhook(
        session, workflow_id, user_id=principal.user_id, public_url=settings.public_url, meta=meta
    )
