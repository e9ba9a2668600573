"""The triggers' SQL, on the session it is given (the caller decides the role and commits)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, delete, func, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db import tables
from autofy.triggers.tables import workflow_schedules, workflow_trigger_polls, workflow_webhooks

# --- workflows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggeredWorkflow:
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    trigger_type: str
    trigger_config: dict[str, Any]
    trigger_step: dict[str, Any] | None  # step 1 when it is a `trigger` step (an app trigger)


def _first_step() -> Any:
    """Each workflow's first enabled step, to join laterally on `workflows`."""
    s = tables.workflow_steps
    return (
        select(s.c.step_type, s.c.service_name, s.c.action_name, s.c.configuration)
        .where(s.c.workflow_id == tables.workflows.c.id, s.c.is_enabled.is_not(False))
        .order_by(s.c.step_order)
        .limit(1)
        .lateral("first_step")
    )


def _trigger_columns(first: Any) -> tuple[Any, ...]:
    """The workflow's trigger settings and its first step (`_first_step()`), as `_trigger_step` and
    the callers read them."""
    w = tables.workflows
    return (w.c.status, w.c.trigger_type, w.c.trigger_config, *first.c)


def _trigger_step(row: Any) -> dict[str, Any] | None:
    if row.step_type != "trigger":
        return None
    return {
        "step_type": row.step_type,
        "service_name": row.service_name,
        "action_name": row.action_name,
        "configuration": row.configuration,
    }


async def triggered_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> TriggeredWorkflow | None:
    """The workflow and its trigger step, as far as the session's role may see it."""
    w, first = tables.workflows, _first_step()
    row = (
        await session.execute(
            select(w.c.id, w.c.user_id, *_trigger_columns(first))
            .select_from(w.outerjoin(first, true()))
            .where(w.c.id == workflow_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return TriggeredWorkflow(
        id=row.id,
        user_id=row.user_id,
        status=row.status,
        trigger_type=row.trigger_type,
        trigger_config=dict(row.trigger_config or {}),
        trigger_step=_trigger_step(row),
    )


async def active_workflow_named_by(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    trigger_type: str,
    trigger_step: tuple[str, str],
    other_than: uuid.UUID,
) -> str | None:
    """The name of another active workflow of the user with this trigger type and trigger step."""
    w, first = tables.workflows, _first_step()
    name: str | None = await session.scalar(
        select(w.c.name)
        .select_from(w.join(first, true()))
        .where(
            w.c.user_id == user_id,
            w.c.status == "active",
            w.c.trigger_type == trigger_type,
            w.c.id != other_than,
            first.c.step_type == "trigger",
            first.c.service_name == trigger_step[0],
            first.c.action_name == trigger_step[1],
        )
        .limit(1)
    )
    return name


async def profile_timezone(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    timezone: str | None = await session.scalar(
        select(tables.profiles.c.timezone).where(tables.profiles.c.id == user_id)
    )
    return timezone


# --- webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    workflow_id: uuid.UUID
    token: str
    signing_secret: str


async def webhook_of(session: AsyncSession, workflow_id: uuid.UUID) -> Webhook | None:
    h = workflow_webhooks
    row = (
        await session.execute(
            select(h.c.workflow_id, h.c.token, h.c.signing_secret).where(h.c.workflow_id == workflow_id)
        )
    ).one_or_none()
    return Webhook(row.workflow_id, row.token, row.signing_secret) if row else None


async def add_webhook_if_missing(
    session: AsyncSession, *, workflow_id: uuid.UUID, user_id: uuid.UUID, token: str, signing_secret: str
) -> None:
    await session.execute(
        insert(workflow_webhooks)
        .values(workflow_id=workflow_id, user_id=user_id, token=token, signing_secret=signing_secret)
        .on_conflict_do_nothing(index_elements=[workflow_webhooks.c.workflow_id])
    )


async def replace_webhook(
    session: AsyncSession, *, workflow_id: uuid.UUID, user_id: uuid.UUID, token: str, signing_secret: str
) -> None:
    statement = insert(workflow_webhooks).values(
        workflow_id=workflow_id, user_id=user_id, token=token, signing_secret=signing_secret
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[workflow_webhooks.c.workflow_id],
            set_={"token": token, "signing_secret": signing_secret, "rotated_at": func.now()},
        )
    )


@dataclass(frozen=True)
class WebhookTarget:
    """What a delivery to a token needs to know about the workflow behind it."""

    workflow_id: uuid.UUID
    signing_secret: str
    accepting: bool  # an active webhook workflow
    require_signature: bool
    generated_secret: str  # the one Autofy generated (a service pushing to the hook presents it)
    trigger_step: dict[str, Any] | None  # step 1 when it names an app trigger (telegram/new_message)


def _webhook_targets_query() -> Any:
    h, w, first = workflow_webhooks, tables.workflows, _first_step()
    return (
        select(h.c.token, h.c.workflow_id, h.c.signing_secret, *_trigger_columns(first))
        .select_from(h.join(w, w.c.id == h.c.workflow_id).outerjoin(first, true()))
        .where(h.c.token == func.any(bindparam("tokens", type_=ARRAY(Text))))
    )


# Built once: composing the lateral join costs more CPU than the query's round trip, and every
# webhook delivery runs it.
_WEBHOOK_TARGETS = _webhook_targets_query()


async def webhook_targets(session: AsyncSession, tokens: Sequence[str]) -> dict[str, WebhookTarget]:
    """The targets of those `tokens` that name one, in one query whatever the tokens (so every
    answer costs the same, and deliveries arriving together are looked up together)."""
    targets = {}
    for row in await session.execute(_WEBHOOK_TARGETS, {"tokens": list(tokens)}):
        signing = webhook_signing(row.trigger_config or {}, row.signing_secret)
        targets[row.token] = WebhookTarget(
            workflow_id=row.workflow_id,
            signing_secret=signing[1],
            accepting=row.status == "active" and row.trigger_type == "webhook",
            require_signature=signing[0],
            generated_secret=row.signing_secret,
            trigger_step=_trigger_step(row),
        )
    return targets


async def webhook_target(session: AsyncSession, token: str) -> WebhookTarget | None:
    return (await webhook_targets(session, [token])).get(token)


def webhook_signing(trigger_config: dict[str, Any], generated_secret: str) -> tuple[bool, str]:
    """Whether deliveries must be signed, and with which secret: the workflow's own
    `trigger_config.signing_secret` when it has one (a secret chosen together with the sender),
    else the generated one when `trigger_config.require_signature` is true."""
    own_secret = trigger_config.get("signing_secret")
    if isinstance(own_secret, str) and own_secret:
        return True, own_secret
    return trigger_config.get("require_signature") is True, generated_secret


# --- replayed signatures (migration 0008_webhook_replay) -------------------------------------

# Claims a signature for its first delivery, and forgets the workflow's signatures that are too
# old to be presented again: the table holds one tolerance window of deliveries per workflow.
_CLAIM_SIGNATURE = text("""
with forgotten as (
  delete from public.webhook_signatures_seen
  where workflow_id = :workflow_id and expires_at < now()
)
insert into public.webhook_signatures_seen (workflow_id, signature, expires_at)
values (:workflow_id, :signature, :expires_at)
on conflict (workflow_id, signature) do nothing
returning true
""")


async def claim_signature(
    session: AsyncSession, workflow_id: uuid.UUID, signature: str, *, expires_at: datetime
) -> bool:
    """True for the first delivery of `signature`; a concurrent twin waits for its commit."""
    claimed = await session.scalar(
        _CLAIM_SIGNATURE, {"workflow_id": workflow_id, "signature": signature, "expires_at": expires_at}
    )
    return bool(claimed)


async def record_signature_run(
    session: AsyncSession, workflow_id: uuid.UUID, signature: str, execution_id: uuid.UUID
) -> None:
    await session.execute(
        text(
            "update public.webhook_signatures_seen set execution_id = :execution_id "
            "where workflow_id = :workflow_id and signature = :signature"
        ),
        {"workflow_id": workflow_id, "signature": signature, "execution_id": execution_id},
    )


async def signature_run(session: AsyncSession, workflow_id: uuid.UUID, signature: str) -> uuid.UUID:
    """The run the first delivery of `signature` started (every committed claim names it: the
    claim and the run are one transaction)."""
    result = await session.execute(
        text(
            "select execution_id from public.webhook_signatures_seen "
            "where workflow_id = :workflow_id and signature = :signature"
        ),
        {"workflow_id": workflow_id, "signature": signature},
    )
    found: uuid.UUID = result.scalar_one()
    return found


# --- schedules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSchedule:
    workflow_id: uuid.UUID
    expression: str
    timezone: str
    next_fire_at: datetime


def _stored_schedule(row: Any) -> StoredSchedule:
    return StoredSchedule(row.workflow_id, row.expression, row.timezone, row.next_fire_at)


_SCHEDULE_COLUMNS = (
    workflow_schedules.c.workflow_id,
    workflow_schedules.c.expression,
    workflow_schedules.c.timezone,
    workflow_schedules.c.next_fire_at,
)


async def schedule_of(session: AsyncSession, workflow_id: uuid.UUID) -> StoredSchedule | None:
    row = (
        await session.execute(
            select(*_SCHEDULE_COLUMNS).where(workflow_schedules.c.workflow_id == workflow_id)
        )
    ).one_or_none()
    return _stored_schedule(row) if row else None


async def put_schedule(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    user_id: uuid.UUID,
    expression: str,
    timezone: str,
    next_fire_at: datetime,
) -> None:
    values = {"expression": expression, "timezone": timezone, "next_fire_at": next_fire_at}
    await session.execute(
        insert(workflow_schedules)
        .values(workflow_id=workflow_id, user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[workflow_schedules.c.workflow_id], set_=values)
    )


async def claim_due_schedules(session: AsyncSession, now: datetime, limit: int) -> list[StoredSchedule]:
    """Due schedules, locked for this transaction; ones another scheduler holds are skipped."""
    rows = await session.execute(
        select(*_SCHEDULE_COLUMNS)
        .where(workflow_schedules.c.next_fire_at <= now)
        .order_by(workflow_schedules.c.next_fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [_stored_schedule(row) for row in rows]


async def earliest_schedule_due(session: AsyncSession) -> datetime | None:
    """When the next schedule comes due (the earliest `next_fire_at`, maybe already past)."""
    earliest: datetime | None = await session.scalar(select(func.min(workflow_schedules.c.next_fire_at)))
    return earliest


@dataclass(frozen=True)
class FiredSlot:
    """A schedule's slot that fired, and the slot after it."""

    workflow_id: uuid.UUID
    fired: datetime
    next_fire_at: datetime


_ADVANCE_SCHEDULES = text("""
update public.workflow_schedules s
set last_fired_at = f.fired, next_fire_at = f.next_fire_at
from jsonb_to_recordset(cast(:slots as jsonb)) as f(workflow_id uuid, fired timestamptz, next_fire_at timestamptz)
where s.workflow_id = f.workflow_id
""")


async def advance_schedules(session: AsyncSession, slots: list[FiredSlot]) -> None:
    """Move each schedule on past the slot it fired, in one statement."""
    if not slots:
        return
    await session.execute(
        _ADVANCE_SCHEDULES,
        {
            "slots": json.dumps(
                [
                    {
                        "workflow_id": str(slot.workflow_id),
                        "fired": slot.fired.isoformat(),
                        "next_fire_at": slot.next_fire_at.isoformat(),
                    }
                    for slot in slots
                ]
            )
        },
    )


# --- polls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPoll:
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    trigger_type: str  # the workflow's (email for gmail/new_email)
    service_name: str
    trigger_name: str
    config: dict[str, Any]
    cursor: dict[str, Any]
    interval_seconds: int


_POLL_COLUMNS = (
    workflow_trigger_polls.c.workflow_id,
    workflow_trigger_polls.c.user_id,
    tables.workflows.c.trigger_type,
    workflow_trigger_polls.c.service_name,
    workflow_trigger_polls.c.trigger_name,
    workflow_trigger_polls.c.config,
    workflow_trigger_polls.c.cursor,
    workflow_trigger_polls.c.interval_seconds,
)


def _stored_poll(row: Any) -> StoredPoll:
    return StoredPoll(
        row.workflow_id,
        row.user_id,
        row.trigger_type,
        row.service_name,
        row.trigger_name,
        dict(row.config),
        dict(row.cursor),
        row.interval_seconds,
    )


async def poll_of(session: AsyncSession, workflow_id: uuid.UUID) -> StoredPoll | None:
    row = (
        await session.execute(
            select(*_POLL_COLUMNS)
            .join(tables.workflows, tables.workflows.c.id == workflow_trigger_polls.c.workflow_id)
            .where(workflow_trigger_polls.c.workflow_id == workflow_id)
        )
    ).one_or_none()
    return _stored_poll(row) if row else None


async def put_poll(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    user_id: uuid.UUID,
    service_name: str,
    trigger_name: str,
    config: dict[str, Any],
    cursor: dict[str, Any],
    interval_seconds: int,
    next_poll_at: datetime,
) -> None:
    values = {
        "service_name": service_name,
        "trigger_name": trigger_name,
        "config": config,
        "cursor": cursor,
        "interval_seconds": interval_seconds,
        "next_poll_at": next_poll_at,
        "last_error": None,
        "consecutive_failures": 0,
    }
    await session.execute(
        insert(workflow_trigger_polls)
        .values(workflow_id=workflow_id, user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[workflow_trigger_polls.c.workflow_id], set_=values)
    )


async def set_poll_interval(
    session: AsyncSession, workflow_id: uuid.UUID, *, interval_seconds: int, next_poll_at: datetime
) -> None:
    await session.execute(
        update(workflow_trigger_polls)
        .where(workflow_trigger_polls.c.workflow_id == workflow_id)
        .values(interval_seconds=interval_seconds, next_poll_at=next_poll_at)
    )


async def due_polls(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    """Workflows whose poll is due, oldest first (each is then claimed in its own transaction)."""
    workflow_ids: list[uuid.UUID] = list(
        await session.scalars(
            select(workflow_trigger_polls.c.workflow_id)
            .where(workflow_trigger_polls.c.next_poll_at <= now)
            .order_by(workflow_trigger_polls.c.next_poll_at)
            .limit(limit)
        )
    )
    return workflow_ids


async def claim_poll(session: AsyncSession, workflow_id: uuid.UUID, now: datetime) -> StoredPoll | None:
    """The poll of one workflow if it is still due and no other scheduler holds it."""
    row = (
        await session.execute(
            select(*_POLL_COLUMNS)
            .join(tables.workflows, tables.workflows.c.id == workflow_trigger_polls.c.workflow_id)
            .where(
                workflow_trigger_polls.c.workflow_id == workflow_id,
                workflow_trigger_polls.c.next_poll_at <= now,
            )
            .with_for_update(skip_locked=True, of=workflow_trigger_polls)
        )
    ).one_or_none()
    return _stored_poll(row) if row else None


async def record_poll_success(
    session: AsyncSession,
    workflow_id: uuid.UUID,
    *,
    cursor: dict[str, Any],
    polled_at: datetime,
    next_poll_at: datetime,
) -> None:
    await session.execute(
        update(workflow_trigger_polls)
        .where(workflow_trigger_polls.c.workflow_id == workflow_id)
        .values(
            cursor=cursor,
            last_polled_at=polled_at,
            next_poll_at=next_poll_at,
            last_error=None,
            consecutive_failures=0,
        )
    )


async def record_poll_failure(
    session: AsyncSession, workflow_id: uuid.UUID, *, error: str, polled_at: datetime, next_poll_at: datetime
) -> None:
    await session.execute(
        update(workflow_trigger_polls)
        .where(workflow_trigger_polls.c.workflow_id == workflow_id)
        .values(
            last_error=error,
            last_polled_at=polled_at,
            next_poll_at=next_poll_at,
            consecutive_failures=workflow_trigger_polls.c.consecutive_failures + 1,
        )
    )


# --- both -------------------------------------------------------------------------------------


async def stop_firing(session: AsyncSession, workflow_id: uuid.UUID, *, keep: str | None = None) -> None:
    """Remove the workflow's schedule and poll (`keep` names one to leave: "schedule" or "poll").

    The webhook endpoint stays: its URL survives a pause, and deliveries check the status.
    """
    if keep != "schedule":
        await session.execute(
            delete(workflow_schedules).where(workflow_schedules.c.workflow_id == workflow_id)
        )
    if keep != "poll":
        await session.execute(
            delete(workflow_trigger_polls).where(workflow_trigger_polls.c.workflow_id == workflow_id)
        )


# --- integrations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredIntegration:
    id: uuid.UUID
    user_id: uuid.UUID
    configuration: dict[str, Any]
    status: str
    error_message: str | None


async def integration_of(
    session: AsyncSession, user_id: uuid.UUID, service_name: str
) -> StoredIntegration | None:
    i = tables.integrations
    row = (
        await session.execute(
            select(i.c.id, i.c.user_id, i.c.configuration, i.c.status, i.c.error_message).where(
                i.c.user_id == user_id, i.c.service_name == service_name
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredIntegration(
        row.id, row.user_id, dict(row.configuration or {}), row.status, row.error_message
    )


async def lock_integration(session: AsyncSession, user_id: uuid.UUID, service_name: str) -> None:
    """Hold the user's integration with `service_name` until the transaction ends (so two
    activations that both check "who else uses this account" run one after the other)."""
    i = tables.integrations
    await session.execute(
        select(i.c.id).where(i.c.user_id == user_id, i.c.service_name == service_name).with_for_update()
    )


async def save_integration_credentials(
    session: AsyncSession, integration_id: uuid.UUID, stored: dict[str, Any]
) -> None:
    await session.execute(
        update(tables.integrations)
        .where(tables.integrations.c.id == integration_id)
        .values(credentials=stored)
    )


async def set_integration_status(
    session: AsyncSession, integration_id: uuid.UUID, *, status: str, error_message: str | None
) -> None:
    await session.execute(
        update(tables.integrations)
        .where(tables.integrations.c.id == integration_id)
        .values(status=status, error_message=error_message)
    )


# --- executions -------------------------------------------------------------------------------

# `dedupe_key` is the engine's column (0003_engine), not in autofy.db.tables: plain SQL here.
_RECORD_REFUSED_EXECUTIONS = text("""
with refused as (
  select * from jsonb_to_recordset(cast(:refusals as jsonb)) as r(
    workflow_id uuid, trigger_data jsonb, error_message text, metadata jsonb, dedupe_key text)
),
recorded as (
  insert into public.workflow_executions
    (workflow_id, user_id, trigger_data, execution_status, completed_at, duration, error_message,
     metadata, dedupe_key)
  select w.id, w.user_id, r.trigger_data, 'failed', now(), interval '0', r.error_message, r.metadata,
         r.dedupe_key
  from refused r join public.workflows w on w.id = r.workflow_id
  on conflict (workflow_id, dedupe_key) where dedupe_key is not null do nothing
  returning workflow_id
),
per_workflow as (
  select workflow_id, count(*) as runs from recorded group by workflow_id
)
update public.workflows w
set total_executions = coalesce(w.total_executions, 0) + p.runs,
    failed_executions = coalesce(w.failed_executions, 0) + p.runs,
    last_executed_at = now()
from per_workflow p
where w.id = p.workflow_id
""")


@dataclass(frozen=True)
class RefusedRun:
    """A run a schedule or poll could not start, and why."""

    workflow_id: uuid.UUID
    trigger_type: str
    trigger_data: dict[str, Any]
    error_message: str
    dedupe_key: str


async def record_refused_executions(session: AsyncSession, refusals: list[RefusedRun]) -> None:
    """Runs a schedule or poll could not start (credits used up, trigger data too large), kept as
    failed executions so the user sees them; a repeated dedupe key records one once."""
    if not refusals:
        return
    await session.execute(
        _RECORD_REFUSED_EXECUTIONS,
        {
            "refusals": json.dumps(
                [
                    {
                        "workflow_id": refusal.workflow_id,
                        "trigger_data": refusal.trigger_data,
                        "error_message": refusal.error_message,
                        "metadata": {"trigger_type": refusal.trigger_type, "not_started": True},
                        "dedupe_key": refusal.dedupe_key,
                    }
                    for refusal in refusals
                ],
                default=str,
            )
        },
    )
