"""Starting, cancelling, re-running and resuming executions: the engine's contract with the rest.

`start_execution` is what every trigger calls (manual runs, webhooks, schedules, new email). It
runs in the caller's transaction as the service role, records the execution and enqueues its first
job in that same transaction, so the execution exists and will run exactly when the caller commits.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.connectors.catalog import UnknownAction, UnknownService, catalog
from autofy.credits import service as credits
from autofy.credits.schemas import CreditUsage
from autofy.db.engine import as_service_role
from autofy.engine import repository
from autofy.engine.queue import raw_connection
from autofy.engine.records import MAX_TRIGGER_DATA_BYTES, is_truncated
from autofy.engine.repository import Connection, Outcome
from autofy.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationFailedError,
)
from autofy.input_guard import MAX_STORED_DEPTH, UnstorableInput, check_storable
from autofy.observability import metrics

TRIGGER_TYPES = ("manual", "scheduled", "webhook", "email")


async def start_execution(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    trigger_type: str,
    trigger_data: dict[str, Any],
    dedupe_key: str | None = None,
) -> uuid.UUID:
    """Record a new running execution of the workflow and enqueue its first step; its id.

    Call it in a service-role transaction; nothing runs until that transaction commits.
    - Only active workflows run; a manual run of a draft or paused workflow is a test run
      (`metadata.test_run`). Archived workflows never run (ConflictError).
    - The run reserves the most credits it may use (`run_credits`) before anything is written; a
      user whose credits left in the period do not cover it is refused (CreditsExhausted, 402).
      Finishing the run settles the reservation (`repository.finish`).
    - Trigger data larger than 1 MiB as JSON is refused (PayloadTooLargeError, 413).
    - With `dedupe_key` (a webhook delivery id), a second call with the same key for the same
      workflow starts nothing and returns the first execution's id, also under concurrency.
    """
    return await _start(
        session,
        workflow_id=workflow_id,
        trigger_type=trigger_type,
        trigger_data=trigger_data,
        dedupe_key=dedupe_key,
    )


@dataclass(frozen=True)
class StartRequest:
    """One run for `start_executions` to start: `start_execution`'s arguments."""

    workflow_id: uuid.UUID
    trigger_type: str
    trigger_data: dict[str, Any]
    dedupe_key: str | None = None


async def start_executions(
    session: AsyncSession, requests: list[StartRequest]
) -> list[uuid.UUID | DomainError]:
    """Start many runs at once (a scheduler's batch of due slots) in two statements whatever their
    number: one read of their workflows, one `public.start_executions`. For each request, in
    order, its execution's id or why it was refused (the error `start_execution` would raise);
    the refused ones leave nothing behind. Same rules as `start_execution`, which is this with one
    request."""
    return await start_prepared(session, await prepare_starts(session, requests))


@dataclass(frozen=True)
class PreparedStarts:
    """`start_executions`' work before the writing (its workflows read, its rules applied, its
    runs encoded), for `start_prepared` to finish later in the same transaction."""

    requests: list[StartRequest]
    refusals: dict[int, DomainError]  # by the request's position
    positions: list[int]  # the request each run is for
    runs: list[repository.RunToStart]
    runs_json: str


async def prepare_starts(session: AsyncSession, requests: list[StartRequest]) -> PreparedStarts:
    """Read the requests' workflows and apply the rules that need no writing (a scheduler does
    this ahead of a slot). The runs are the workflows as read here: a caller that starts them
    later keeps the workflows from changing meanwhile."""
    connection = await raw_connection(session)
    workflows = await repository.workflows_to_start(
        connection, list(dict.fromkeys(request.workflow_id for request in requests))
    )
    refusals: dict[int, DomainError] = {}
    runs: list[repository.RunToStart] = []
    positions: list[int] = []
    for position, request in enumerate(requests):
        try:
            runs.append(_run_to_start(workflows.get(request.workflow_id), request))
        except DomainError as refused:
            refusals[position] = refused
        else:
            positions.append(position)
    return PreparedStarts(requests, refusals, positions, runs, repository.runs_json(runs))


async def start_prepared(session: AsyncSession, prepared: PreparedStarts) -> list[uuid.UUID | DomainError]:
    """Reserve, record and enqueue the prepared runs (one `public.start_executions`): for each
    request, in order, its execution's id or why it was refused."""
    results: dict[int, uuid.UUID | DomainError] = dict(prepared.refusals)
    recorded = await _record(await raw_connection(session), prepared.runs, prepared.runs_json)
    for position, result in zip(prepared.positions, recorded, strict=True):
        results[position] = result
    return [results[position] for position in range(len(prepared.requests))]


def run_credits(plan: list[dict[str, Any]]) -> int:
    """The most a run of `plan` may be charged: each action step's flat credits and the token
    credits an LLM call may add; conditions and delays cost nothing."""
    return _credits_of(
        (step["service_name"], step["action_name"]) for step in plan if step["step_type"] == "action"
    )


def _credits_of(actions: Iterable[tuple[str, str]]) -> int:
    total = 0
    for service_name, action_name in actions:
        try:
            action = catalog().action(service_name, action_name)
        except (UnknownService, UnknownAction):
            continue  # the step fails with the catalog's message, charged nothing
        total += action.credits + action.max_usage_credits
    return total


async def _start(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    trigger_type: str,
    trigger_data: dict[str, Any],
    dedupe_key: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
    resume_from: repository.Row | None = None,
) -> uuid.UUID:
    connection = await raw_connection(session)
    workflows = await repository.workflows_to_start(connection, [workflow_id])
    run = _run_to_start(
        workflows.get(workflow_id),
        StartRequest(workflow_id, trigger_type, trigger_data, dedupe_key),
        extra_metadata=extra_metadata,
        resume_from=resume_from,
    )
    [result] = await _record(connection, [run], repository.runs_json([run]))
    if isinstance(result, DomainError):
        raise result
    return result


def _run_to_start(
    workflow: repository.WorkflowToStart | None,
    request: StartRequest,
    *,
    extra_metadata: dict[str, Any] | None = None,
    resume_from: repository.Row | None = None,
) -> repository.RunToStart:
    """The run `request` asks for, by the rules of `start_execution` that need no writing."""
    if request.trigger_type not in TRIGGER_TYPES:
        raise ValueError(f"unknown trigger type {request.trigger_type!r}")
    if workflow is None:
        raise NotFoundError("The workflow does not exist.")
    test_run = workflow.status != "active"
    if workflow.status == "archived" or (test_run and request.trigger_type != "manual"):
        raise ConflictError(
            f"The workflow is {workflow.status}: only active workflows run on their trigger "
            "(a draft or paused workflow can be run by hand as a test)."
        )
    trigger_json = repository.as_json(request.trigger_data)
    if len(trigger_json.encode()) > MAX_TRIGGER_DATA_BYTES:
        raise PayloadTooLargeError(
            f"The trigger data is larger than {MAX_TRIGGER_DATA_BYTES // 1024} KiB as JSON."
        )
    try:
        check_storable(request.trigger_data, "trigger_data", max_depth=MAX_STORED_DEPTH)
    except UnstorableInput as error:
        raise ValidationFailedError(
            f"The {error.field} {error.problem}.", details=[{"field": error.field, "message": error.problem}]
        ) from None

    metadata: dict[str, Any] = {"trigger_type": request.trigger_type, "workflow_name": workflow.name}
    if test_run:
        metadata["test_run"] = True
    if workflow.trigger_step is not None:
        # The trigger step's output is the trigger data: `steps.new_email` and `steps[1]` work too.
        metadata["trigger_step"] = workflow.trigger_step
    metadata |= extra_metadata or {}

    reused: list[dict[str, Any]] = []
    cursor, credits_needed = 0, _credits_of(workflow.actions)
    if resume_from is not None:
        plan = workflow.plan()
        reused, cursor = _reusable_results(plan, resume_from)
        credits_needed = run_credits(plan[cursor:])
    return repository.RunToStart(
        execution_id=uuid.uuid4(),
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        credits=credits_needed,
        trigger_json=trigger_json,
        total_steps=workflow.plan_length,
        metadata=metadata,
        plan_json=workflow.plan_json,
        step_results=reused,
        cursor=cursor,
        completed_steps=sum(1 for result in reused if result["status"] == "completed"),
        dedupe_key=request.dedupe_key,
    )


async def _record(
    connection: Connection, runs: list[repository.RunToStart], runs_json: str
) -> list[uuid.UUID | DomainError]:
    """Reserve, record and enqueue `runs` (encoded as `runs_json`) in one statement; each one's
    execution id (the first one's for a repeated dedupe key), or the refusal of a run whose
    credits were not left."""
    usage_of: dict[uuid.UUID, CreditUsage] = {}
    results: list[uuid.UUID | DomainError] = []
    started_by_trigger: Counter[str] = Counter()
    for run, started in zip(runs, await repository.start_runs(connection, runs_json), strict=True):
        if started.outcome == "refused":
            # Read once per user: a batch may hold many runs of one user out of credits.
            if run.user_id not in usage_of:
                usage_of[run.user_id] = await credits.usage(connection, run.user_id)
            results.append(credits.refusal(usage_of[run.user_id], credits=run.credits, what="this run"))
            continue
        assert started.execution_id is not None, "a started or existing run has an id"
        if started.outcome == "started":
            started_by_trigger[run.metadata["trigger_type"]] += 1
        results.append(started.execution_id)
    for trigger_type, count in started_by_trigger.items():
        metrics.executions_started.labels(trigger_type).inc(count)
    return results


def _reusable_results(plan: list[dict[str, Any]], failed: repository.Row) -> tuple[list[dict[str, Any]], int]:
    """For a resume: the failed run's results before its failed step, and where to continue."""
    failed_step_id = str(failed["error_step_id"]) if failed["error_step_id"] else None
    position = next(
        (index for index, step in enumerate(plan) if str(step["step_id"]) == failed_step_id), None
    )
    if position is None:
        raise ConflictError(
            "The step this run failed at is no longer part of the workflow; re-run it instead."
        )
    # A step whose stored output was truncated for history runs again: later steps need it whole.
    results = {str(result["step_id"]): result for result in failed["step_results"]}
    position = next(
        (
            index
            for index, step in enumerate(plan[:position])
            if str(step["step_id"]) in results and is_truncated(results[str(step["step_id"])])
        ),
        position,
    )
    earlier = {str(step["step_id"]) for step in plan[:position]}
    reused = [
        result | {"reused": True}
        for result in failed["step_results"]
        if result["step_id"] in earlier and result["status"] in ("completed", "skipped")
    ]
    return reused, position


# --- what users do with executions --------------------------------------------------------------


async def _visible(session: AsyncSession, sql: str, resource_id: uuid.UUID) -> None:
    if await session.scalar(text(sql), {"id": resource_id}) is None:
        raise NotFoundError()


async def run_workflow(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    payload: dict[str, Any],
    actor: uuid.UUID,
    meta: RequestInfo | None = None,
) -> uuid.UUID:
    """A manual run by the workflow's owner (the session is theirs): the new execution's id."""
    await _visible(session, "select id from public.workflows where id = :id", workflow_id)
    async with as_service_role(session):
        execution_id = await start_execution(
            session, workflow_id=workflow_id, trigger_type="manual", trigger_data=payload
        )
    await _audit(session, actor, "execution.start", execution_id, {"workflow_id": str(workflow_id)}, meta)
    return execution_id


async def _audit(
    session: AsyncSession,
    actor: uuid.UUID,
    action: str,
    execution_id: uuid.UUID,
    details: dict[str, Any],
    meta: RequestInfo | None,
) -> None:
    await audit.record(
        session,
        user_id=actor,
        action=action,
        resource_type="execution",
        resource_id=execution_id,
        details=details,
        meta=meta,
    )


async def _own_execution(session: AsyncSession, execution_id: uuid.UUID) -> repository.Row:
    """The caller's execution (RLS decides), read as the service for the engine's columns."""
    await _visible(session, "select id from public.workflow_executions where id = :id", execution_id)
    async with as_service_role(session):
        row = await repository.execution_for_user_action(await raw_connection(session), execution_id)
    assert row is not None
    return row


async def cancel(
    session: AsyncSession, *, execution_id: uuid.UUID, actor: uuid.UUID, meta: RequestInfo | None = None
) -> None:
    """Cancel a running (or delayed, or retry-waiting) execution. Its queued job becomes a no-op
    and a step in flight cannot record its result: the status is final from here on."""
    row = await _own_execution(session, execution_id)
    if row["execution_status"] != "running":
        raise ConflictError(f"The execution is already {row['execution_status']}.")
    async with as_service_role(session):
        cancelled = await repository.finish(
            await raw_connection(session),
            None,
            execution_id,
            Outcome(status="cancelled", error_message="Cancelled by the user."),
        )
    if not cancelled:
        raise ConflictError("The execution finished before it could be cancelled.")
    await _audit(session, actor, "execution.cancel", execution_id, {}, meta)


async def rerun(
    session: AsyncSession, *, execution_id: uuid.UUID, actor: uuid.UUID, meta: RequestInfo | None = None
) -> uuid.UUID:
    """A new execution of the same workflow with the same trigger data; its id."""
    row = await _own_execution(session, execution_id)
    async with as_service_role(session):
        new_id = await _start(
            session,
            workflow_id=row["workflow_id"],
            trigger_type="manual",
            trigger_data=row["trigger_data"],
            extra_metadata={"rerun_of": str(execution_id)},
        )
    await _audit(session, actor, "execution.rerun", new_id, {"rerun_of": str(execution_id)}, meta)
    return new_id


async def resume(
    session: AsyncSession, *, execution_id: uuid.UUID, actor: uuid.UUID, meta: RequestInfo | None = None
) -> uuid.UUID:
    """Continue a failed execution from its failed step, as a new execution; its id.

    The failed execution stays as it was (its status is final); the new one carries the earlier
    steps' results (marked `reused`, not charged again), runs the workflow's current steps from
    the failed one on, and names the original in `metadata.resumed_from`.
    """
    row = await _own_execution(session, execution_id)
    if row["execution_status"] != "failed":
        raise ConflictError(f"Only a failed execution can be resumed; this one is {row['execution_status']}.")
    async with as_service_role(session):
        new_id = await _start(
            session,
            workflow_id=row["workflow_id"],
            trigger_type="manual",
            trigger_data=row["trigger_data"],
            extra_metadata={"resumed_from": str(execution_id)},
            resume_from=row,
        )
    await _audit(session, actor, "execution.resume", new_id, {"resumed_from": str(execution_id)}, meta)
    return new_id
