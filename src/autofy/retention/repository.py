"""SQL for pruning: one bounded batch per call, oldest first, skipping rows someone else holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

# The cutoff depends on the owner's plan; running executions are never pruned, however old.
_DELETE_EXECUTIONS_BATCH = text(
    """
    with doomed as (
        select e.id
        from public.workflow_executions e
        join public.profiles p on p.id = e.user_id
        where e.execution_status <> 'running'
          and e.started_at < cast(:now as timestamptz) - make_interval(days => case p.plan_type
                when 'pro' then cast(:pro_days as integer)
                when 'enterprise' then cast(:enterprise_days as integer)
                else cast(:free_days as integer) end)
        order by e.started_at
        limit :batch_size
        for update of e skip locked
    )
    delete from public.workflow_executions e using doomed where e.id = doomed.id
    """
)

# Tables pruned by age alone, and the timestamp column that dates their rows.
AGED_TABLES = {"audit_logs": "created_at", "system_status": "checked_at", "notifications": "created_at"}


def _delete_older_than(table: str) -> TextClause:
    column = AGED_TABLES[table]
    return text(
        f"""
        with doomed as (
            select id from public.{table}
            where {column} < cast(:now as timestamptz) - make_interval(days => cast(:days as integer))
            order by {column}
            limit :batch_size
            for update skip locked
        )
        delete from public.{table} t using doomed where t.id = doomed.id
        """  # noqa: S608 - names come from AGED_TABLES, values are bound
    )


async def delete_expired_executions(
    session: AsyncSession,
    *,
    now: datetime,
    free_days: int,
    pro_days: int,
    enterprise_days: int,
    batch_size: int,
) -> int:
    result = await session.execute(
        _DELETE_EXECUTIONS_BATCH,
        {
            "now": now,
            "free_days": free_days,
            "pro_days": pro_days,
            "enterprise_days": enterprise_days,
            "batch_size": batch_size,
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_aged_rows(
    session: AsyncSession, *, table: str, now: datetime, days: int, batch_size: int
) -> int:
    result = await session.execute(
        _delete_older_than(table), {"now": now, "days": days, "batch_size": batch_size}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
