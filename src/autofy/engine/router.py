"""Running workflows by hand, and cancelling, re-running and resuming executions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body

from autofy.auth.dependencies import ExecutePrincipal, RequestMeta, UserSession
from autofy.engine import service
from autofy.engine.schemas import ExecutionCancelled, ExecutionStarted
from autofy.errors import error_responses

router = APIRouter(prefix="/api/v1", tags=["executions"])

Payload = Annotated[
    dict[str, Any] | None,
    Body(description="Trigger data for the run: templates read it as `{{ trigger.… }}`."),
]


@router.post(
    "/workflows/{workflow_id}/run",
    status_code=202,
    response_model=ExecutionStarted,
    responses=error_responses(402, 404, 409),
    summary="Run a workflow now (a test run when it is a draft or paused)",
    description=(
        "Starts an execution with the JSON body as its trigger data and answers once it is durably "
        "recorded; the steps run on a worker. 402 when your credits are used up."
    ),
)
async def run_workflow(
    workflow_id: uuid.UUID,
    principal: ExecutePrincipal,
    session: UserSession,
    meta: RequestMeta,
    payload: Payload = None,
) -> ExecutionStarted:
    execution_id = await service.run_workflow(
        session, workflow_id=workflow_id, payload=payload or {}, actor=principal.user_id, meta=meta
    )
    return ExecutionStarted(execution_id=execution_id)


@router.post(
    "/executions/{execution_id}/cancel",
    response_model=ExecutionCancelled,
    responses=error_responses(404, 409),
    summary="Cancel a running or delayed execution",
    description="A step in flight cannot record its result afterwards; 409 when the run already ended.",
)
async def cancel_execution(
    execution_id: uuid.UUID, principal: ExecutePrincipal, session: UserSession, meta: RequestMeta
) -> ExecutionCancelled:
    await service.cancel(session, execution_id=execution_id, actor=principal.user_id, meta=meta)
    return ExecutionCancelled(execution_id=execution_id)


@router.post(
    "/executions/{execution_id}/rerun",
    status_code=202,
    response_model=ExecutionStarted,
    responses=error_responses(402, 404, 409),
    summary="Run the workflow again with this execution's trigger data",
)
async def rerun_execution(
    execution_id: uuid.UUID, principal: ExecutePrincipal, session: UserSession, meta: RequestMeta
) -> ExecutionStarted:
    new_id = await service.rerun(session, execution_id=execution_id, actor=principal.user_id, meta=meta)
    return ExecutionStarted(execution_id=new_id)


@router.post(
    "/executions/{execution_id}/resume",
    status_code=202,
    response_model=ExecutionStarted,
    responses=error_responses(402, 404, 409),
    summary="Continue a failed execution from the step it failed at",
    description=(
        "Starts a new execution that reuses the earlier steps' results and runs the workflow's "
        "current steps from the failed one on; `metadata.resumed_from` names the original."
    ),
)
async def resume_execution(
    execution_id: uuid.UUID, principal: ExecutePrincipal, session: UserSession, meta: RequestMeta
) -> ExecutionStarted:
    new_id = await service.resume(session, execution_id=execution_id, actor=principal.user_id, meta=meta)
    return ExecutionStarted(execution_id=new_id)
