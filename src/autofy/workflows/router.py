"""HTTP routes of workflows and their steps: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from autofy.auth.dependencies import Principal, RequestMeta, UserSession, require
from autofy.dependencies import Offset
from autofy.errors import error_responses
from autofy.pagination import Page
from autofy.workflows import service
from autofy.workflows.repository import WorkflowFilters
from autofy.workflows.schemas import (
    Step,
    StepCreate,
    StepOrderUpdate,
    StepUpdate,
    Workflow,
    WorkflowCreate,
    WorkflowDocument,
    WorkflowSortField,
    WorkflowStatus,
    WorkflowSummary,
    WorkflowUpdate,
    WorkflowValidation,
)

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]


def get_status_hooks(request: Request) -> tuple[service.StatusHook, ...]:
    """What the app runs when a workflow's status changes or an active one is edited (the
    triggers' set-up), as `create_app` registers it in `app.state.workflow_status_hooks`."""
    hooks: tuple[service.StatusHook, ...] = tuple(request.app.state.workflow_status_hooks)
    return hooks


Hooks = Annotated[tuple[service.StatusHook, ...], Depends(get_status_hooks)]

_NOT_FOUND = error_responses(404)
_INVALID = error_responses(404, 422)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Workflow, responses=error_responses(422))
async def create_workflow(
    body: WorkflowCreate, principal: Writer, session: UserSession, meta: RequestMeta
) -> Workflow:
    """Create a draft workflow with all its steps in one transaction.

    Steps must name services and actions of the catalog; their configuration may be incomplete
    until the workflow is activated.
    """
    return await service.create_workflow(session, principal.user_id, body, meta=meta)


@router.get("", response_model=Page[WorkflowSummary])
async def list_workflows(
    principal: Reader,
    session: UserSession,
    status_filter: Annotated[WorkflowStatus | None, Query(alias="status")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the name or description, any case.")
    ] = None,
    sort: WorkflowSortField = "created_at",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
    ] = None,
) -> Page[WorkflowSummary]:
    """The caller's workflows, filtered, sorted and paginated (by offset or by cursor)."""
    return await service.list_workflows(
        session,
        WorkflowFilters(status=status_filter, tag=tag, search=search),
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )


@router.post(
    "/import", status_code=status.HTTP_201_CREATED, response_model=Workflow, responses=error_responses(422)
)
async def import_workflow(
    body: WorkflowDocument, principal: Writer, session: UserSession, meta: RequestMeta
) -> Workflow:
    """Create a draft from an exported workflow document (new ids for everything)."""
    return await service.import_workflow(session, principal.user_id, body, meta=meta)


@router.get("/{workflow_id}", response_model=Workflow, responses=_NOT_FOUND)
async def get_workflow(workflow_id: uuid.UUID, principal: Reader, session: UserSession) -> Workflow:
    return await service.get_workflow(session, workflow_id)


@router.patch("/{workflow_id}", response_model=Workflow, responses=_INVALID)
async def update_workflow(
    workflow_id: uuid.UUID,
    body: WorkflowUpdate,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> Workflow:
    """Change the name, description, trigger or tags. An active workflow must stay valid."""
    return await service.update_workflow(
        session, principal.user_id, workflow_id, body, meta=meta, hooks=hooks
    )


@router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def delete_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta
) -> Response:
    """Delete the workflow with its steps and its execution history."""
    await service.delete_workflow(session, principal.user_id, workflow_id, meta=meta)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{workflow_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=Workflow,
    responses=_NOT_FOUND,
)
async def duplicate_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta
) -> Workflow:
    """A draft copy named "<name> (copy)", with copies of every step."""
    return await service.duplicate_workflow(session, principal.user_id, workflow_id, meta=meta)


@router.get("/{workflow_id}/export", response_model=WorkflowDocument, responses=_NOT_FOUND)
async def export_workflow(
    workflow_id: uuid.UUID, principal: Reader, session: UserSession
) -> WorkflowDocument:
    """The workflow as a portable JSON document (docs/workflow-format.md), secrets blanked."""
    return await service.export_workflow(session, workflow_id)


@router.get("/{workflow_id}/validation", response_model=WorkflowValidation, responses=_NOT_FOUND)
async def validate_workflow(
    workflow_id: uuid.UUID, principal: Reader, session: UserSession
) -> WorkflowValidation:
    """What would keep the workflow from being activated, each problem with its step and field."""
    workflow = await service.get_workflow(session, workflow_id)
    problems = await service.workflow_problems(session, workflow)
    return WorkflowValidation.of(
        service.problem_details([problem for problem in problems if problem.blocks_activation]),
        service.problem_details([problem for problem in problems if not problem.blocks_activation]),
    )


_STATUS_RESPONSES = error_responses(404, 409, 422)


@router.post("/{workflow_id}/activate", response_model=Workflow, responses=_STATUS_RESPONSES)
async def activate_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta, hooks: Hooks
) -> Workflow:
    """Start the workflow (from draft or paused) after validating it; 422 lists every problem."""
    return await service.set_status(session, principal.user_id, workflow_id, "active", meta=meta, hooks=hooks)


@router.post("/{workflow_id}/pause", response_model=Workflow, responses=_STATUS_RESPONSES)
async def pause_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta, hooks: Hooks
) -> Workflow:
    """Stop triggering the workflow until it is activated again."""
    return await service.set_status(session, principal.user_id, workflow_id, "paused", meta=meta, hooks=hooks)


@router.post("/{workflow_id}/archive", response_model=Workflow, responses=_STATUS_RESPONSES)
async def archive_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta, hooks: Hooks
) -> Workflow:
    """Retire the workflow, keeping its history; `restore` brings it back as a draft."""
    return await service.set_status(
        session, principal.user_id, workflow_id, "archived", meta=meta, hooks=hooks
    )


@router.post("/{workflow_id}/restore", response_model=Workflow, responses=_STATUS_RESPONSES)
async def restore_workflow(
    workflow_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta, hooks: Hooks
) -> Workflow:
    """Bring an archived workflow back as a draft."""
    return await service.set_status(session, principal.user_id, workflow_id, "draft", meta=meta, hooks=hooks)


@router.post(
    "/{workflow_id}/steps", status_code=status.HTTP_201_CREATED, response_model=Step, responses=_INVALID
)
async def add_step(
    workflow_id: uuid.UUID,
    body: StepCreate,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> Step:
    """Add a step at `step_order` (later steps move down) or at the end."""
    return await service.add_step(session, principal.user_id, workflow_id, body, meta=meta, hooks=hooks)


@router.put("/{workflow_id}/steps/order", response_model=list[Step], responses=_INVALID)
async def reorder_steps(
    workflow_id: uuid.UUID,
    body: StepOrderUpdate,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> list[Step]:
    """Put the steps in the given order; `step_ids` lists every step exactly once."""
    return await service.reorder_steps(session, principal.user_id, workflow_id, body, meta=meta, hooks=hooks)


@router.patch("/{workflow_id}/steps/{step_id}", response_model=Step, responses=_INVALID)
async def update_step(
    workflow_id: uuid.UUID,
    step_id: uuid.UUID,
    body: StepUpdate,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> Step:
    return await service.update_step(
        session, principal.user_id, workflow_id, step_id, body, meta=meta, hooks=hooks
    )


@router.delete("/{workflow_id}/steps/{step_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_INVALID)
async def delete_step(
    workflow_id: uuid.UUID,
    step_id: uuid.UUID,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> Response:
    """Remove the step; the steps after it move up."""
    await service.delete_step(session, principal.user_id, workflow_id, step_id, meta=meta, hooks=hooks)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
