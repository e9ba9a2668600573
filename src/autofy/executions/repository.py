"""SQL for reading executions and the dashboard's figures (RLS shows only the caller's rows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, RowMapping, Select, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from autofy import pagination
from autofy.db.tables import workflow_executions, workflows

_executions = workflow_executions.c


@dataclass(frozen=True)
class ExecutionFilters:
    status: str | None = None
    workflow_id: uuid.UUID | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None


def _with_workflow_name(*extra_columns: ColumnElement[Any]) -> Select[Any]:
    return select(
        _executions.id,
        _executions.workflow_id,
        workflows.c.name.label("workflow_name"),
        _executions.execution_status,
        _executions.started_at,
        _executions.completed_at,
        extract("epoch", _executions.duration).label("duration_seconds"),
        _executions.total_steps,
        _executions.completed_steps,
        _executions.failed_steps,
        _executions.error_message,
        _executions.error_step_id,
        _executions.credits_used,
        *extra_columns,
    ).join(workflows, workflows.c.id == _executions.workflow_id)


async def list_executions(
    session: AsyncSession,
    filters: ExecutionFilters,
    *,
    limit: int,
    offset: int,
    cursor: pagination.Cursor | None,
    count_limit: int | None = None,
) -> tuple[list[RowMapping], int]:
    """One page of executions, newest first, and how many match the filters (at most
    `count_limit`, when given)."""
    conditions = []
    if filters.status is not None:
        conditions.append(_executions.execution_status == filters.status)
    if filters.workflow_id is not None:
        conditions.append(_executions.workflow_id == filters.workflow_id)
    if filters.started_after is not None:
        conditions.append(_executions.started_at >= filters.started_after)
    if filters.started_before is not None:
        conditions.append(_executions.started_at < filters.started_before)
    matching = select(_executions.id).where(*conditions).limit(count_limit)
    total = await session.scalar(select(func.count()).select_from(matching.subquery()))
    query = pagination.one_page(
        _with_workflow_name().where(*conditions),
        _executions.started_at,
        _executions.id,
        descending=True,
        cursor=cursor,
        limit=limit,
        offset=offset,
    )
    result = await session.execute(query)
    return list(result.mappings().all()), int(total or 0)


async def get_execution(session: AsyncSession, execution_id: uuid.UUID) -> RowMapping | None:
    query = _with_workflow_name(
        _executions.trigger_data, _executions.step_results, _executions.metadata
    ).where(_executions.id == execution_id)
    row: RowMapping | None = (await session.execute(query)).mappings().one_or_none()
    return row


async def workflow_exists(session: AsyncSession, workflow_id: uuid.UUID) -> bool:
    found = await session.scalar(select(workflows.c.id).where(workflows.c.id == workflow_id))
    return found is not None


@dataclass(frozen=True)
class WorkflowCounts:
    total: int
    active: int


async def workflow_counts(session: AsyncSession) -> WorkflowCounts:
    total, active = (
        await session.execute(
            select(func.count(), func.count().filter(workflows.c.status == "active")).select_from(workflows)
        )
    ).one()
    return WorkflowCounts(total=int(total), active=int(active))


async def runs_by_status(session: AsyncSession, *, started_after: datetime | None = None) -> dict[str, int]:
    """How many runs are in each status, all of them or those started since `started_after`."""
    query = select(_executions.execution_status, func.count()).group_by(_executions.execution_status)
    if started_after is not None:
        query = query.where(_executions.started_at >= started_after)
    return {str(status): cast(int, count) for status, count in (await session.execute(query)).all()}


async def recent_failures(session: AsyncSession, *, limit: int) -> list[RowMapping]:
    result = await session.execute(
        select(
            _executions.id.label("execution_id"),
            _executions.workflow_id,
            workflows.c.name.label("workflow_name"),
            _executions.error_message,
            _executions.started_at,
        )
        .join(workflows, workflows.c.id == _executions.workflow_id)
        .where(_executions.execution_status == "failed")
        .order_by(_executions.started_at.desc(), _executions.id.desc())
        .limit(limit)
    )
    return list(result.mappings().all())
