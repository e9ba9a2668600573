"""Reading executions: the history, one run with its step results, and the dashboard summary.

Executions are written by the engine (as the service role); users only read them, and RLS shows
each user only their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from autofy import pagination
from autofy.credits import service as credits_service
from autofy.errors import NotFoundError, ValidationFailedError
from autofy.executions import repository
from autofy.executions.repository import ExecutionFilters
from autofy.executions.schemas import Dashboard, Execution, ExecutionSummary, RecentFailure, Today
from autofy.pagination import Page
from autofy.workflows.service import WorkflowNotFound

RECENT_FAILURES = 5
# Executions are listed newest first; the cursor remembers that order.
_SORT = "started_at:desc"


class ExecutionNotFound(NotFoundError):
    def __init__(self, execution_id: uuid.UUID) -> None:
        super().__init__(f"Execution {execution_id} does not exist.")


async def list_executions(
    session: AsyncSession,
    filters: ExecutionFilters,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    count_limit: int | None = None,
) -> Page[ExecutionSummary]:
    """A page of executions matching `filters`, newest first. `total` counts them all, or at most
    `count_limit`: counting a history of 100,000 runs costs more than the rest of a page view."""
    if (
        filters.started_after is not None
        and filters.started_before is not None
        and filters.started_after >= filters.started_before
    ):
        message = "started_after must be earlier than started_before."
        raise ValidationFailedError(message, details=[{"field": "query.started_after", "message": message}])
    if filters.workflow_id is not None and not await repository.workflow_exists(session, filters.workflow_id):
        raise WorkflowNotFound(filters.workflow_id)
    position = (
        pagination.decode_cursor(cursor, sort=_SORT, parse_value=datetime.fromisoformat) if cursor else None
    )
    # One row more than the page tells whether a next page exists.
    rows, total = await repository.list_executions(
        session, filters, limit=limit + 1, offset=offset, cursor=position, count_limit=count_limit
    )
    items = [ExecutionSummary.model_validate(dict(row)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = pagination.encode_cursor(_SORT, last.started_at, last.id)
    return Page[ExecutionSummary](
        items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor
    )


async def get_execution(session: AsyncSession, execution_id: uuid.UUID) -> Execution:
    row = await repository.get_execution(session, execution_id)
    if row is None:
        raise ExecutionNotFound(execution_id)
    return Execution.model_validate(dict(row))


async def dashboard(session: AsyncSession, user_id: uuid.UUID) -> Dashboard:
    workflows = await repository.workflow_counts(session)
    runs = await repository.runs_by_status(session)
    completed, failed = runs.get("completed", 0), runs.get("failed", 0)
    credits = await credits_service.own_usage(session, user_id)
    failures = await repository.recent_failures(session, limit=RECENT_FAILURES)
    return Dashboard(
        workflows_total=workflows.total,
        workflows_active=workflows.active,
        executions_total=sum(runs.values()),
        executions_completed=completed,
        executions_failed=failed,
        executions_running=runs.get("running", 0),
        success_rate=round(completed / (completed + failed), 4) if completed + failed else None,
        credits_used=credits.used,
        credits_limit=credits.allowance + credits.granted,
        recent_failures=[RecentFailure.model_validate(dict(row)) for row in failures],
    )


async def today(session: AsyncSession, user_id: uuid.UUID, *, since: datetime) -> Today:
    """Home's figures: cheaper than the dashboard, counting only the runs started `since`."""
    workflows = await repository.workflow_counts(session)
    runs = await repository.runs_by_status(session, started_after=since)
    return Today(
        workflows_total=workflows.total,
        workflows_active=workflows.active,
        runs_completed=runs.get("completed", 0),
        runs_failed=runs.get("failed", 0),
        credits=await credits_service.own_usage(session, user_id),
    )
