"""SQL for usage figures (as the user: RLS counts only their own runs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Date, Row, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.tables import workflow_executions, workflows

_executions = workflow_executions.c
_status = _executions.execution_status


async def runs_per_day(session: AsyncSession, *, since: datetime, timezone: str) -> Sequence[Row[Any]]:
    """(day, completed, failed, other, credits) for each day in `timezone` that had runs since `since`."""
    day = cast(func.timezone(timezone, _executions.started_at), Date).label("day")
    statement = (
        select(
            day,
            func.count().filter(_status == "completed").label("completed"),
            func.count().filter(_status == "failed").label("failed"),
            func.count().filter(_status.not_in(("completed", "failed"))).label("other"),
            func.coalesce(func.sum(_executions.credits_used), 0).label("credits_used"),
        )
        .where(_executions.started_at >= since)
        .group_by(day)
        .order_by(day)
    )
    return (await session.execute(statement)).all()


async def busiest_workflows(session: AsyncSession, *, since: datetime, limit: int) -> Sequence[Row[Any]]:
    runs = func.count().label("runs")
    statement = (
        select(
            workflows.c.id.label("workflow_id"),
            workflows.c.name,
            runs,
            func.count().filter(_status == "failed").label("failed"),
            func.coalesce(func.sum(_executions.credits_used), 0).label("credits_used"),
            func.max(_executions.started_at).label("last_run_at"),
        )
        .join(workflows, workflows.c.id == _executions.workflow_id)
        .where(_executions.started_at >= since)
        .group_by(workflows.c.id, workflows.c.name)
        .order_by(runs.desc(), workflows.c.name, workflows.c.id)
        .limit(limit)
    )
    return (await session.execute(statement)).all()
