"""HTTP routes of the execution history and the dashboard (read only: the engine writes runs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from autofy.auth.dependencies import Principal, UserSession, require
from autofy.dependencies import Offset
from autofy.errors import error_responses
from autofy.executions import service
from autofy.executions.repository import ExecutionFilters
from autofy.executions.schemas import Dashboard, Execution, ExecutionStatus, ExecutionSummary
from autofy.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["executions"])

Reader = Annotated[Principal, Depends(require("read"))]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page.")]
StartedAfter = Annotated[datetime | None, Query(description="Runs started at or after this time.")]
StartedBefore = Annotated[datetime | None, Query(description="Runs started before this time.")]


@router.get("/executions", response_model=Page[ExecutionSummary], responses=error_responses(404))
async def list_executions(
    principal: Reader,
    session: UserSession,
    status: ExecutionStatus | None = None,
    workflow_id: uuid.UUID | None = None,
    started_after: StartedAfter = None,
    started_before: StartedBefore = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> Page[ExecutionSummary]:
    """All your executions, newest first."""
    filters = ExecutionFilters(
        status=status, workflow_id=workflow_id, started_after=started_after, started_before=started_before
    )
    return await service.list_executions(session, filters, limit=limit, offset=offset, cursor=cursor)


@router.get(
    "/workflows/{workflow_id}/executions",
    response_model=Page[ExecutionSummary],
    responses=error_responses(404),
)
async def list_workflow_executions(
    workflow_id: uuid.UUID,
    principal: Reader,
    session: UserSession,
    status: ExecutionStatus | None = None,
    started_after: StartedAfter = None,
    started_before: StartedBefore = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> Page[ExecutionSummary]:
    """One workflow's executions, newest first."""
    filters = ExecutionFilters(
        status=status, workflow_id=workflow_id, started_after=started_after, started_before=started_before
    )
    return await service.list_executions(session, filters, limit=limit, offset=offset, cursor=cursor)


@router.get("/executions/{execution_id}", response_model=Execution, responses=error_responses(404))
async def get_execution(execution_id: uuid.UUID, principal: Reader, session: UserSession) -> Execution:
    """One execution with the result of every step."""
    return await service.get_execution(session, execution_id)


@router.get("/dashboard", response_model=Dashboard)
async def get_dashboard(principal: Reader, session: UserSession) -> Dashboard:
    """Your workflows, runs, success rate, credits and latest failures at a glance."""
    return await service.dashboard(session, principal.user_id)
