"""The rules of workflows: what may be saved, what may be activated, and how the status moves.

Validation is the connector catalog's one validator (`connectors.validation`), given the caller's
own integrations; every way in goes through it (create, update, add or change a step, import,
template, duplicate, the AI assistant), and each problem has a level (docs/workflow-format.md,
"Validation"):
- refused at save, even in a draft: whatever is unsafe or broken (a secret in a step, another
  account's integration, an attribute the sandbox forbids, a template that does not compile, an
  unknown trigger_config key, a step naming nothing in the catalog);
- refused at activation (and at any change to a workflow that is already active): whatever a draft
  may hold while it is being built (missing or invalid values, a reference to a step that is not
  there, a filter without rules, a service not connected yet). All problems are reported at once,
  each with its step and field.

Status changes live in `TRANSITIONS` and nowhere else:

    draft ──activate──▶ active ──pause──▶ paused ──activate──▶ active
      │                   │                 │
      └──────archive──────┴─────archive─────┴──▶ archived ──restore──▶ draft

Archiving stops a workflow for good without deleting its history; restoring brings it back as a
draft, which must pass validation again before it runs.

Status hooks: code that must react when a workflow's status changes (the triggers setting up a
webhook, a schedule, an email cursor) is passed in as `hooks` (the API takes them from
`app.state.workflow_status_hooks`). They run inside the same transaction after the change, so a
hook that raises undoes it; they run again after any edit of an active workflow (with
`previous_status` equal to its status), so its trigger follows the edit.

Export blanks secret-looking values (`security.secrets.SECRET_KEY_PATTERN`: a webhook's
`signing_secret`, any `*token`/`*password`/`*api_key` field): credentials belong in integrations,
and an exported file is meant to be shared. Import gives every imported workflow new ids and makes
it a draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from autofy import pagination
from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.connectors.catalog import catalog
from autofy.connectors.validation import StepProblem, WorkflowCheck, validate_workflow
from autofy.errors import ConflictError, ErrorDetail, NotFoundError, ValidationFailedError
from autofy.integrations import repository as integrations_repository
from autofy.pagination import Page
from autofy.security.secrets import is_secret_key
from autofy.workflows import repository
from autofy.workflows.repository import WorkflowFilters
from autofy.workflows.schemas import (
    MAX_STEPS,
    ErrorHandling,
    Step,
    StepCreate,
    StepDocument,
    StepFields,
    StepOrderUpdate,
    StepUpdate,
    Workflow,
    WorkflowDocument,
    WorkflowSortField,
    WorkflowStatus,
    WorkflowSummary,
    WorkflowUpdate,
)

COPY_SUFFIX = " (copy)"
MAX_NAME_LENGTH = 200
Source = Literal["api", "import", "template", "duplicate", "assistant"]

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"active", "archived"}),
    "active": frozenset({"paused", "archived"}),
    "paused": frozenset({"active", "archived"}),
    "archived": frozenset({"draft"}),
}


class WorkflowNotFound(NotFoundError):
    def __init__(self, workflow_id: uuid.UUID) -> None:
        super().__init__(f"Workflow {workflow_id} does not exist.")


class StepNotFound(NotFoundError):
    def __init__(self, step_id: uuid.UUID) -> None:
        super().__init__(f"Step {step_id} does not exist in this workflow.")


class StatusChangeNotAllowed(ConflictError):
    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
        super().__init__(
            f"A workflow that is {current} cannot become {wanted}; from {current} it can become: {allowed}."
        )


class WorkflowInvalid(ValidationFailedError):
    def __init__(self, message: str, problems: Sequence[ErrorDetail]) -> None:
        super().__init__(message, details=problems)


# --- status hooks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    workflow: Workflow
    previous_status: str
    user_id: uuid.UUID


StatusHook = Callable[[AsyncSession, StatusChange], Awaitable[None]]


async def _run_hooks(
    session: AsyncSession,
    hooks: Sequence[StatusHook],
    workflow: Workflow,
    previous_status: str,
    user_id: uuid.UUID,
) -> None:
    change = StatusChange(workflow=workflow, previous_status=previous_status, user_id=user_id)
    for hook in hooks:
        await hook(session, change)


# --- reading ------------------------------------------------------------------------------------


def _summary_fields(row: RowMapping) -> dict[str, Any]:
    fields = {name: row[name] for name in WorkflowSummary.model_fields if name in row}
    average = row["average_duration"]
    fields["average_duration_seconds"] = average.total_seconds() if average is not None else None
    fields["trigger_config"] = row["trigger_config"] or {}
    fields["tags"] = list(row["tags"] or [])
    return fields


def _step(row: RowMapping) -> Step:
    return Step.model_validate(
        {**dict(row), "conditions": row["conditions"] or {}, "error_handling": row["error_handling"] or {}}
    )


async def _load(session: AsyncSession, workflow_id: uuid.UUID, *, lock: bool = False) -> Workflow:
    row = await repository.get_workflow(session, workflow_id, lock=lock)
    if row is None:
        raise WorkflowNotFound(workflow_id)
    steps = await repository.list_steps(session, workflow_id)
    return Workflow.model_validate({**_summary_fields(row), "steps": [_step(step) for step in steps]})


async def get_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> Workflow:
    return await _load(session, workflow_id)


async def list_workflows(
    session: AsyncSession,
    filters: WorkflowFilters,
    *,
    sort: WorkflowSortField = "created_at",
    order: Literal["asc", "desc"] = "desc",
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[WorkflowSummary]:
    sort_key = f"{sort}:{order}"
    position = None
    if cursor:
        position = pagination.decode_cursor(
            cursor, sort=sort_key, parse_value=str if sort == "name" else datetime.fromisoformat
        )
    # One row more than the page tells whether a next page exists.
    rows, total = await repository.list_workflows(
        session,
        filters,
        sort=sort,
        descending=order == "desc",
        limit=limit + 1,
        offset=offset,
        cursor=position,
    )
    items = [WorkflowSummary.model_validate(_summary_fields(row)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = pagination.encode_cursor(sort_key, last[sort], last["id"])
    return Page[WorkflowSummary](
        items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor
    )


async def list_tags(session: AsyncSession) -> list[str]:
    """Every tag the caller's workflows carry, for a tag filter."""
    return await repository.list_tags(session)


# --- saving -------------------------------------------------------------------------------------


def _step_values(step: StepFields | Step) -> dict[str, Any]:
    return step.model_dump(
        include={
            "step_type",
            "service_name",
            "action_name",
            "configuration",
            "conditions",
            "error_handling",
            "is_enabled",
        }
    )


def _step_mappings(steps: Sequence[StepFields | Step]) -> list[dict[str, Any]]:
    """Steps in run order as the validator reads them, numbered from 1 as they are saved."""
    return [{**_step_values(step), "step_order": order} for order, step in enumerate(steps, start=1)]


async def list_workflow_names(session: AsyncSession, *, limit: int = 1000) -> list[tuple[uuid.UUID, str]]:
    """Your workflows' (id, name), by name, at most `limit`: for a menu (a filter, a picker);
    reading whole workflows for it costs twenty times as much with a thousand of them."""
    return await repository.workflow_names(session, limit=limit)


async def _own_integrations(session: AsyncSession) -> list[RowMapping]:
    return await integrations_repository.list_integrations(session)


async def document_problems(
    session: AsyncSession,
    trigger_type: str,
    trigger_config: Any,
    steps: Sequence[StepFields | Step],
    *,
    connections: bool = True,
) -> list[StepProblem]:
    """Every problem of a workflow that may not be saved yet (a document, the builder's form):
    each with its level, step position and field. `steps` are in run order. `connections`: also
    report the services the workflow needs that are not connected (or not active)."""
    rows = await _own_integrations(session)
    check = WorkflowCheck(catalog(), {row["id"]: row["service_name"] for row in rows})
    problems = validate_workflow(check, trigger_type, trigger_config, _step_mappings(steps))
    return problems + (_connection_problems(steps, rows) if connections else [])


async def workflow_problems(session: AsyncSession, workflow: Workflow) -> list[StepProblem]:
    """Every problem of a saved workflow, warnings included (see `document_problems`)."""
    return await document_problems(session, workflow.trigger_type, workflow.trigger_config, workflow.steps)


def problem_details(problems: Sequence[StepProblem]) -> list[ErrorDetail]:
    """Problems in the API's error shape, fields as paths into the workflow as the API returns it:
    `steps.<index>.configuration.chat_id` (index from 0, in run order), `trigger_config.cron`."""
    return [
        {
            "field": problem.field
            if problem.step_order is None
            else f"steps.{problem.step_order - 1}.{problem.field}",
            "message": problem.message,
        }
        for problem in problems
    ]


def _require_savable(problems: Sequence[StepProblem]) -> None:
    refused = [problem for problem in problems if problem.blocks_saving]
    if refused:
        raise WorkflowInvalid(
            "The workflow cannot be saved, even as a draft; fix these problems first.",
            problem_details(refused),
        )


async def create_workflow(
    session: AsyncSession,
    user_id: uuid.UUID,
    document: WorkflowDocument,
    *,
    meta: RequestInfo | None = None,
    source: Source = "api",
    created_from_chat: bool = False,
    chat_session_id: uuid.UUID | None = None,
    audit_details: Mapping[str, Any] | None = None,
) -> Workflow:
    """Save `document` (docs/workflow-format.md) as a new draft workflow of `user_id`, with its steps.

    The entry point for the API, import, templates and the AI assistant alike.
    """
    steps = document.ordered_steps()
    _require_savable(await document_problems(session, document.trigger_type, document.trigger_config, steps))
    row = await repository.insert_workflow(
        session,
        {
            "user_id": user_id,
            "name": document.name,
            "description": document.description,
            "status": "draft",
            "trigger_type": document.trigger_type,
            "trigger_config": document.trigger_config,
            "tags": document.tags,
            "created_from_chat": created_from_chat,
            "chat_session_id": chat_session_id,
        },
    )
    await repository.insert_steps(session, row["id"], [_step_values(step) for step in steps])
    workflow = await _load(session, row["id"])
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.create",
        resource_type="workflow",
        resource_id=workflow.id,
        details={"name": workflow.name, "source": source, "steps": len(steps), **(audit_details or {})},
        meta=meta,
    )
    return workflow


async def update_workflow(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    changes: WorkflowUpdate,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> Workflow:
    await _load(session, workflow_id, lock=True)
    values = changes.model_dump(exclude_unset=True)
    for required in ("name", "trigger_type", "trigger_config", "tags"):
        if required in values and values[required] is None:
            raise ValidationFailedError(
                f"{required} cannot be null.", details=[{"field": required, "message": "cannot be null"}]
            )
    if values:
        await repository.update_workflow(session, workflow_id, values)
    workflow = await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.update",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"fields": sorted(values)},
        meta=meta,
    )
    return workflow


async def delete_workflow(
    session: AsyncSession, user_id: uuid.UUID, workflow_id: uuid.UUID, *, meta: RequestInfo | None = None
) -> None:
    workflow = await _load(session, workflow_id, lock=True)
    await repository.delete_workflow(session, workflow_id)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.delete",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"name": workflow.name},
        meta=meta,
    )


async def duplicate_workflow(
    session: AsyncSession, user_id: uuid.UUID, workflow_id: uuid.UUID, *, meta: RequestInfo | None = None
) -> Workflow:
    """A draft copy of the workflow and its steps, named with a "(copy)" suffix."""
    original = await _load(session, workflow_id)
    document = _document(original, redact_secrets=False)
    document.name = original.name[: MAX_NAME_LENGTH - len(COPY_SUFFIX)] + COPY_SUFFIX
    return await create_workflow(
        session,
        user_id,
        document,
        meta=meta,
        source="duplicate",
        audit_details={"copied_from": str(workflow_id)},
    )


async def replace_workflow(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    document: WorkflowDocument,
    step_ids: Sequence[uuid.UUID | None],
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> Workflow:
    """Make the workflow `document` in one change (the web builder's Save): its name, trigger and
    tags, and its steps in run order. `step_ids[i]` is the existing step the i-th step replaces
    (keeping its id and history), None for a new one; existing steps not named are deleted.

    The whole document is checked before anything is written, so an active workflow moves from
    one runnable state to the next with no half-edited state in between.
    """
    workflow = await _load(session, workflow_id, lock=True)
    steps = document.ordered_steps()
    if len(step_ids) != len(steps):
        raise ValueError("step_ids must have one entry per step")
    current = {step.id for step in workflow.steps}
    for step_id in step_ids:
        if step_id is not None and step_id not in current:
            raise StepNotFound(step_id)
    problems = await document_problems(session, document.trigger_type, document.trigger_config, steps)
    _require_savable(problems)
    if workflow.status == "active":
        blocking = [problem for problem in problems if problem.blocks_activation]
        if blocking:
            raise WorkflowInvalid(
                "The change would leave this active workflow unable to run.", problem_details(blocking)
            )
    kept = {step_id for step_id in step_ids if step_id is not None}
    for old in workflow.steps:
        if old.id not in kept:
            await repository.delete_step(session, old.id)
    await repository.renumber_steps(
        session,
        workflow_id,
        {step_id: order for order, step_id in enumerate(step_ids, start=1) if step_id is not None},
    )
    for order, (step_id, new) in enumerate(zip(step_ids, steps, strict=True), start=1):
        if step_id is None:
            await repository.insert_step(session, workflow_id, order, _step_values(new))
        else:
            await repository.update_step(session, step_id, _step_values(new))
    await repository.update_workflow(
        session,
        workflow_id,
        document.model_dump(include={"name", "description", "trigger_type", "trigger_config", "tags"}),
    )
    saved = await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.update",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"source": "builder", "steps": len(steps)},
        meta=meta,
    )
    return saved


# --- steps --------------------------------------------------------------------------------------


async def add_step(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    step: StepCreate,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> Step:
    """Insert `step` at `step.step_order` (later steps move down one), or at the end."""
    workflow = await _load(session, workflow_id, lock=True)
    count = len(workflow.steps)
    if count >= MAX_STEPS:
        raise ValidationFailedError(f"A workflow has at most {MAX_STEPS} steps.")
    position = step.step_order or count + 1
    if position > count + 1:
        message = f"step_order must be between 1 and {count + 1}."
        raise ValidationFailedError(message, details=[{"field": "step_order", "message": message}])
    await repository.renumber_steps(
        session, workflow_id, {s.id: s.step_order + 1 for s in workflow.steps if s.step_order >= position}
    )
    row = await repository.insert_step(session, workflow_id, position, _step_values(step))
    await repository.touch_workflow(session, workflow_id)
    await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.step_add",
        resource_type="workflow",
        resource_id=workflow_id,
        details={
            "step_id": str(row["id"]),
            "service_name": step.service_name,
            "action_name": step.action_name,
        },
        meta=meta,
    )
    return _step(row)


async def update_step(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    step_id: uuid.UUID,
    changes: StepUpdate,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> Step:
    workflow = await _load(session, workflow_id, lock=True)
    current = next((step for step in workflow.steps if step.id == step_id), None)
    if current is None:
        raise StepNotFound(step_id)
    values = changes.model_dump(exclude_unset=True)
    nulls = [name for name, value in values.items() if value is None]
    if nulls:
        raise ValidationFailedError(
            "These fields cannot be null.",
            details=[{"field": name, "message": "cannot be null"} for name in nulls],
        )
    merged = StepFields.model_validate({**current.model_dump(include=set(StepFields.model_fields)), **values})
    row = await repository.update_step(session, step_id, _step_values(merged)) if values else None
    await repository.touch_workflow(session, workflow_id)
    await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.step_update",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"step_id": str(step_id), "fields": sorted(values)},
        meta=meta,
    )
    return _step(row) if row is not None else current


async def delete_step(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    step_id: uuid.UUID,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> None:
    """Remove the step; the steps after it move up so the order stays 1, 2, 3, …"""
    workflow = await _load(session, workflow_id, lock=True)
    if not any(step.id == step_id for step in workflow.steps):
        raise StepNotFound(step_id)
    await repository.delete_step(session, step_id)
    remaining = [step for step in workflow.steps if step.id != step_id]
    await repository.renumber_steps(
        session,
        workflow_id,
        {
            step.id: position
            for position, step in enumerate(remaining, start=1)
            if step.step_order != position
        },
    )
    await repository.touch_workflow(session, workflow_id)
    await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.step_delete",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"step_id": str(step_id)},
        meta=meta,
    )


async def reorder_steps(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    new_order: StepOrderUpdate,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> list[Step]:
    """Put the steps in the order of `new_order.step_ids`, which must name each step exactly once."""
    workflow = await _load(session, workflow_id, lock=True)
    current_ids = {step.id for step in workflow.steps}
    wanted = new_order.step_ids
    if len(wanted) != len(set(wanted)) or set(wanted) != current_ids:
        problems: list[ErrorDetail] = []
        duplicates = sorted({str(step_id) for step_id in wanted if wanted.count(step_id) > 1})
        if duplicates:
            problems.append(
                {"field": "step_ids", "message": f"listed more than once: {', '.join(duplicates)}"}
            )
        unknown = sorted(str(step_id) for step_id in set(wanted) - current_ids)
        if unknown:
            problems.append(
                {"field": "step_ids", "message": f"not steps of this workflow: {', '.join(unknown)}"}
            )
        missing = sorted(str(step_id) for step_id in current_ids - set(wanted))
        if missing:
            problems.append({"field": "step_ids", "message": f"missing: {', '.join(missing)}"})
        raise ValidationFailedError(
            "step_ids must list every step of the workflow exactly once.", details=problems
        )
    await repository.renumber_steps(
        session, workflow_id, {step_id: position for position, step_id in enumerate(wanted, start=1)}
    )
    await repository.touch_workflow(session, workflow_id)
    reordered = await _checked_after_change(session, user_id, workflow_id, hooks)
    await audit.record(
        session,
        user_id=user_id,
        action="workflow.steps_reorder",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"step_ids": [str(step_id) for step_id in wanted]},
        meta=meta,
    )
    return reordered.steps


# --- validation and status ----------------------------------------------------------------------


async def validation_problems(session: AsyncSession, workflow: Workflow) -> list[ErrorDetail]:
    """Everything that keeps `workflow` from running (warnings left out), each with its step and
    field; empty when none. See `problem_details` for the fields."""
    problems = await workflow_problems(session, workflow)
    return problem_details([problem for problem in problems if problem.blocks_activation])


# Why an integration cannot serve a run, by status. A service that could not be reached when last
# tested keeps its status (see integrations.service), so it does not block activation.
_INTEGRATION_PROBLEMS = {
    "missing": "Connect {service} first (POST /api/v1/integrations).",
    "inactive": "The {service} integration is not connected yet: finish connecting it.",
    "error": (
        "The {service} integration's credentials were refused (its error_message says why): "
        "send new ones (PATCH /api/v1/integrations/{{id}}), then test it."
    ),
    "expired": "The {service} integration's access expired or was revoked: reconnect it.",
}


def _connection_problems(
    steps: Sequence[StepFields | Step], integrations: Sequence[RowMapping]
) -> list[StepProblem]:
    """One problem per service the workflow needs whose integration is missing or not active."""
    needed = catalog().required_services([_step_values(step) for step in steps])
    statuses = {row["service_name"]: row["status"] for row in integrations}
    problems: list[StepProblem] = []
    for order, step in enumerate(steps, start=1):
        service = step.service_name
        if service not in needed or statuses.get(service) == "active":
            continue
        needed.discard(service)  # report each service once, at its first step
        status = statuses.get(service)
        message = _INTEGRATION_PROBLEMS.get(status or "missing", _INTEGRATION_PROBLEMS["missing"])
        problems.append(StepProblem("service_name", message.format(service=service), order))
    return problems


async def _checked_after_change(
    session: AsyncSession, user_id: uuid.UUID, workflow_id: uuid.UUID, hooks: Sequence[StatusHook]
) -> Workflow:
    """After any change: nothing unsafe may be saved, an active workflow must stay runnable (a change
    that breaks it is refused and rolled back), and the hooks see the change (a new schedule,
    another Gmail query)."""
    workflow = await _load(session, workflow_id)
    problems = await workflow_problems(session, workflow)
    _require_savable(problems)
    if workflow.status == "active":
        blocking = [problem for problem in problems if problem.blocks_activation]
        if blocking:
            raise WorkflowInvalid(
                "The change would leave this active workflow unable to run.", problem_details(blocking)
            )
        await _run_hooks(session, hooks, workflow, workflow.status, user_id)
    return workflow


async def set_status(
    session: AsyncSession,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    status: WorkflowStatus,
    *,
    meta: RequestInfo | None = None,
    hooks: Sequence[StatusHook] = (),
) -> Workflow:
    """Move the workflow to `status` if `TRANSITIONS` allows it; activation validates first.

    Runs `hooks` in this transaction after the change. 404 for an unknown workflow, 409 for a
    move the rules forbid, 422 with every problem when activation finds the workflow invalid.
    """
    workflow = await _load(session, workflow_id, lock=True)
    previous = workflow.status
    if status not in TRANSITIONS[previous]:
        raise StatusChangeNotAllowed(previous, status)
    if status == "active":
        problems = await validation_problems(session, workflow)
        if problems:
            raise WorkflowInvalid("The workflow cannot be activated; fix these problems first.", problems)
    await repository.update_workflow(session, workflow_id, {"status": status})
    changed = await _load(session, workflow_id)
    await _run_hooks(session, hooks, changed, previous, user_id)
    await audit.record(
        session,
        user_id=user_id,
        action=f"workflow.{_STATUS_VERBS[status]}",
        resource_type="workflow",
        resource_id=workflow_id,
        details={"from": previous, "to": status},
        meta=meta,
    )
    return changed


_STATUS_VERBS: Mapping[str, str] = {
    "active": "activate",
    "paused": "pause",
    "archived": "archive",
    "draft": "restore",
}


# --- export and import --------------------------------------------------------------------------


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "" if is_secret_key(key) and item not in (None, "") else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _shareable(step: Step) -> dict[str, Any]:
    """A step's configuration for an export: secrets blanked, and no integration id (it names an
    integration of this account only: whoever imports the file chooses their own)."""
    configuration: dict[str, Any] = _redact(step.configuration)
    if (
        catalog().integration_service(step.service_name, step.action_name)
        and "integration_id" in configuration
    ):
        configuration["integration_id"] = None
    return configuration


def _document(workflow: Workflow, *, redact_secrets: bool) -> WorkflowDocument:
    clean: Callable[[Any], Any] = _redact if redact_secrets else (lambda value: value)
    return WorkflowDocument(
        name=workflow.name,
        description=workflow.description,
        trigger_type=workflow.trigger_type,
        trigger_config=clean(workflow.trigger_config),
        tags=workflow.tags,
        steps=[
            StepDocument(
                step_order=step.step_order,
                step_type=step.step_type,
                service_name=step.service_name,
                action_name=step.action_name,
                configuration=_shareable(step) if redact_secrets else step.configuration,
                conditions=step.conditions,
                error_handling=ErrorHandling.model_validate(step.error_handling),
                is_enabled=step.is_enabled,
            )
            for step in workflow.steps
        ],
    )


async def export_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> WorkflowDocument:
    """The workflow in the portable format, without ids and with secret-looking values blanked."""
    return _document(await _load(session, workflow_id), redact_secrets=True)


async def import_workflow(
    session: AsyncSession, user_id: uuid.UUID, document: WorkflowDocument, *, meta: RequestInfo | None = None
) -> Workflow:
    """A new draft from an exported document: new ids for the workflow and every step."""
    return await create_workflow(session, user_id, document, meta=meta, source="import")
