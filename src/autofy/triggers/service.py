"""The triggers' rules: what a workflow's activation, pause and archive do to its trigger, and
the owner's view of a webhook.

`on_workflow_status_changed` runs in the transaction that changes the status (the user's, RLS
on): the workflow is read under the caller's role, so someone else's workflow is not found, then
the trigger state is written as the service role, which alone may write it. A failure (an invalid
schedule, Gmail unreachable, Telegram refusing the webhook) raises and the whole status change
rolls back: a workflow is never active with a trigger that does not fire.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.connectors.catalog import APP_TRIGGERS, MIN_POLL_INTERVAL_SECONDS, parse_schedule
from autofy.connectors.sdk import ConnectorError
from autofy.db.engine import as_service_role
from autofy.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError
from autofy.triggers import repository, telegram
from autofy.triggers.polling import DEFAULT_POLL_INTERVAL_SECONDS, ConnectorAccess, start_cursor
from autofy.triggers.schedule import next_slot_after
from autofy.triggers.schemas import WebhookEndpoint
from autofy.triggers.webhook import new_signing_secret, new_token, standard_secret, webhook_url


class TriggerActivationError(DomainError):
    """The service a trigger watches could not be reached or refused; the workflow stays as it was."""

    status_code = 422
    code = "trigger_activation_failed"
    default_message = "The workflow's trigger could not be started."


async def on_workflow_status_changed(
    session: AsyncSession,
    workflow_id: uuid.UUID,
    new_status: str,
    *,
    connectors: ConnectorAccess,
    now: datetime | None = None,
) -> None:
    """Bring the workflow's trigger in line with its status and trigger config.

    Active: a webhook workflow gets its endpoint (kept from an earlier activation), and Telegram
    is told to deliver there when step 1 is telegram/new_message; a scheduled one its next slot,
    an email one its cursor from Gmail (so only mail arriving from now on counts).
    Anything else: schedules and polls stop, Telegram stops delivering (best effort), and the
    webhook endpoint stays, refusing deliveries.
    Idempotent: call it again after editing an active workflow's trigger; an unchanged schedule or
    poll keeps its place.
    """
    workflow = await repository.triggered_workflow(session, workflow_id)
    if workflow is None:
        raise NotFoundError()
    now = now or datetime.now(UTC)
    # Trigger state is written by the service role only: a user choosing their own token, slot or
    # cursor would bypass the trigger's rules.
    async with as_service_role(session):
        if new_status != "active":
            await repository.stop_firing(session, workflow.id)
            await _unregister_telegram(session, workflow, connectors)
        elif workflow.trigger_type == "webhook":
            await repository.add_webhook_if_missing(
                session,
                workflow_id=workflow.id,
                user_id=workflow.user_id,
                token=new_token(),
                signing_secret=new_signing_secret(),
            )
            await repository.stop_firing(session, workflow.id)
            webhook = await repository.webhook_of(session, workflow.id)
            assert webhook is not None
            await _register_telegram(session, workflow, webhook, connectors)
        elif workflow.trigger_type == "scheduled":
            await _schedule(session, workflow, now)
            await repository.stop_firing(session, workflow.id, keep="schedule")
        elif workflow.trigger_type in APP_TRIGGERS:
            await _watch(session, workflow, now, connectors)
            await repository.stop_firing(session, workflow.id, keep="poll")
        else:
            await repository.stop_firing(session, workflow.id)


async def _register_telegram(
    session: AsyncSession,
    workflow: repository.TriggeredWorkflow,
    webhook: repository.Webhook,
    connectors: ConnectorAccess,
) -> None:
    """Have Telegram deliver to a webhook workflow whose trigger step is telegram/new_message."""
    if not telegram.names_trigger(workflow.trigger_step):
        return
    try:
        await telegram.register(
            session,
            connectors,
            workflow_id=workflow.id,
            user_id=workflow.user_id,
            trigger_step=workflow.trigger_step,
            url=webhook_url(connectors.public_url, webhook.token),
            secret_token=webhook.signing_secret,
        )
    except ConnectorError as error:
        raise TriggerActivationError(telegram.refusal_message(error, connectors.public_url)) from None


async def _unregister_telegram(
    session: AsyncSession, workflow: repository.TriggeredWorkflow, connectors: ConnectorAccess
) -> None:
    if workflow.trigger_type != "webhook" or not telegram.names_trigger(workflow.trigger_step):
        return
    webhook = await repository.webhook_of(session, workflow.id)
    if webhook is None:  # never activated: Telegram was never told about it
        return
    await telegram.unregister(
        session,
        connectors,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        url=webhook_url(connectors.public_url, webhook.token),
    )


async def _schedule(session: AsyncSession, workflow: repository.TriggeredWorkflow, now: datetime) -> None:
    # Without a time zone of its own, a schedule reads its times in the owner's.
    owner_timezone = await repository.profile_timezone(session, workflow.user_id) or "UTC"
    try:
        schedule = parse_schedule({"timezone": owner_timezone} | workflow.trigger_config)
    except ValueError as error:
        raise ValidationFailedError(
            "The schedule is not valid.", details=[{"field": "trigger_config", "message": str(error)}]
        ) from None
    stored = await repository.schedule_of(session, workflow.id)
    if stored and (stored.expression, stored.timezone) == (schedule.cron, schedule.timezone.key):
        return
    await repository.put_schedule(
        session,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        expression=schedule.cron,
        timezone=schedule.timezone.key,
        next_fire_at=next_slot_after(schedule, now),
    )


async def _watch(
    session: AsyncSession, workflow: repository.TriggeredWorkflow, now: datetime, connectors: ConnectorAccess
) -> None:
    service_name, trigger_name = APP_TRIGGERS[workflow.trigger_type]
    step = workflow.trigger_step
    if step is None or (step["service_name"], step["action_name"]) != (service_name, trigger_name):
        raise ValidationFailedError(
            f"A {workflow.trigger_type} workflow starts with the {service_name}/{trigger_name} trigger step.",
            details=[{"field": "steps.0", "message": f"Must be the {service_name}/{trigger_name} trigger."}],
        )
    config: dict[str, Any] = dict(step["configuration"] or {})
    interval = _poll_interval(workflow.trigger_config)
    next_poll_at = now + timedelta(seconds=interval)
    stored = await repository.poll_of(session, workflow.id)
    if stored and (stored.service_name, stored.trigger_name, stored.config) == (
        service_name,
        trigger_name,
        config,
    ):
        if stored.interval_seconds != interval:
            await repository.set_poll_interval(
                session, workflow.id, interval_seconds=interval, next_poll_at=next_poll_at
            )
        return
    try:
        cursor = await start_cursor(session, connectors, user_id=workflow.user_id, trigger_step=step)
    except ConnectorError as error:
        raise TriggerActivationError(
            f"Could not start watching {service_name} for {trigger_name}: {error.message}. "
            "Nothing was changed; check the integration and try again."
        ) from None
    await repository.put_poll(
        session,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        service_name=service_name,
        trigger_name=trigger_name,
        config=config,
        cursor=cursor,
        interval_seconds=interval,
        next_poll_at=next_poll_at,
    )


def _poll_interval(trigger_config: Mapping[str, Any]) -> int:
    configured = trigger_config.get("poll_interval_seconds", DEFAULT_POLL_INTERVAL_SECONDS)
    if isinstance(configured, bool) or not isinstance(configured, int | float):
        raise ValidationFailedError(
            "poll_interval_seconds must be a number of seconds.",
            details=[{"field": "trigger_config.poll_interval_seconds", "message": "Not a number."}],
        )
    return max(int(configured), MIN_POLL_INTERVAL_SECONDS)


# --- the owner's view of a webhook ------------------------------------------------------------


async def _webhook_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> repository.TriggeredWorkflow:
    workflow = await repository.triggered_workflow(session, workflow_id)
    if workflow is None:
        raise NotFoundError()
    if workflow.trigger_type != "webhook":
        raise ConflictError("This workflow is not started by a webhook (its trigger_type is not webhook).")
    return workflow


def _endpoint(
    workflow: repository.TriggeredWorkflow, webhook: repository.Webhook | None, public_url: str
) -> WebhookEndpoint:
    if webhook is None:
        return WebhookEndpoint(
            workflow_id=workflow.id,
            url=None,
            accepting=False,
            signing_required=False,
            signing_secret=None,
            standard_webhooks_secret=None,
        )
    signing_required, signing_secret = repository.webhook_signing(
        workflow.trigger_config, webhook.signing_secret
    )
    return WebhookEndpoint(
        workflow_id=workflow.id,
        url=webhook_url(public_url, webhook.token),
        accepting=workflow.status == "active",
        signing_required=signing_required,
        signing_secret=signing_secret,
        standard_webhooks_secret=standard_secret(signing_secret),
    )


async def webhook_endpoint(
    session: AsyncSession, workflow_id: uuid.UUID, *, public_url: str
) -> WebhookEndpoint:
    """The caller's webhook (their session: RLS decides what they see)."""
    workflow = await _webhook_workflow(session, workflow_id)
    return _endpoint(workflow, await repository.webhook_of(session, workflow_id), public_url)


async def rotate_webhook(
    session: AsyncSession,
    workflow_id: uuid.UUID,
    *,
    user_id: uuid.UUID,
    connectors: ConnectorAccess,
    meta: RequestInfo | None = None,
) -> WebhookEndpoint:
    """A new URL and signing secret for the caller's webhook workflow; the old ones stop working.
    An active workflow started by Telegram has Telegram deliver to the new URL (or nothing changes)."""
    workflow = await _webhook_workflow(session, workflow_id)
    webhook = repository.Webhook(workflow.id, new_token(), new_signing_secret())
    async with as_service_role(session):
        await repository.replace_webhook(
            session,
            workflow_id=workflow.id,
            user_id=workflow.user_id,
            token=webhook.token,
            signing_secret=webhook.signing_secret,
        )
        if workflow.status == "active":
            await _register_telegram(session, workflow, webhook, connectors)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.webhook_rotate",
        resource_type="workflow",
        resource_id=workflow.id,
        meta=meta,
    )
    return _endpoint(workflow, webhook, connectors.public_url)
