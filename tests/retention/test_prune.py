"""Pruning removes exactly what the retention policy says, and nothing of anyone else's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from autofy.db import tables
from autofy.db.engine import Database
from autofy.retention.service import RetentionPolicy, prune
from tests.factories import User, create_audit_log, create_execution, create_user, create_workflow

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(
    free_days=14, pro_days=90, enterprise_days=365, audit_days=30, status_days=7, batch_size=500
)


async def _set_plan(database: Database, user: User, plan: str) -> None:
    async with database.service_session() as session:
        await session.execute(
            update(tables.profiles).where(tables.profiles.c.id == user.id).values(plan_type=plan)
        )


async def _execution(
    database: Database, user: User, *, age_days: float, status: str = "completed"
) -> uuid.UUID:
    workflow = await create_workflow(database, user)
    return await create_execution(
        database, workflow, execution_status=status, started_at=NOW - timedelta(days=age_days)
    )


async def _remaining_executions(database: Database) -> set[uuid.UUID]:
    async with database.service_session() as session:
        return set((await session.scalars(select(tables.workflow_executions.c.id))).all())


async def test_prune_follows_each_owners_plan_and_keeps_running_executions(database: Database) -> None:
    free, pro = await create_user(database), await create_user(database)
    await _set_plan(database, pro, "pro")
    free_old = await _execution(database, free, age_days=20)
    free_recent = await _execution(database, free, age_days=10)
    free_old_running = await _execution(database, free, age_days=20, status="running")
    free_old_failed = await _execution(database, free, age_days=15, status="failed")
    pro_twenty = await _execution(database, pro, age_days=20)
    pro_old = await _execution(database, pro, age_days=100)

    result = await prune(database, POLICY, now=NOW)

    assert result.executions == 3
    assert await _remaining_executions(database) == {free_recent, free_old_running, pro_twenty}
    assert {free_old, free_old_failed, pro_old}.isdisjoint(await _remaining_executions(database))


async def test_prune_works_in_bounded_batches(database: Database) -> None:
    user = await create_user(database)
    for _ in range(5):
        await _execution(database, user, age_days=30)
    batches: list[int] = []

    result = await prune(
        database,
        RetentionPolicy(
            free_days=14, pro_days=90, enterprise_days=365, audit_days=30, status_days=7, batch_size=2
        ),
        now=NOW,
        on_batch=batches.append,
    )

    assert result.executions == 5
    assert batches == [2, 2, 1]
    assert await _remaining_executions(database) == set()


async def test_audit_logs_have_their_own_longer_retention(database: Database) -> None:
    user = await create_user(database)
    old = await create_audit_log(database, user, created_at=NOW - timedelta(days=31))
    kept = await create_audit_log(database, user, created_at=NOW - timedelta(days=29))
    execution_of_same_age = await _execution(database, user, age_days=29)

    result = await prune(database, POLICY, now=NOW)

    assert result.audit_logs == 1
    async with database.service_session() as session:
        remaining = set((await session.scalars(select(tables.audit_logs.c.id))).all())
    assert kept in remaining
    assert old not in remaining
    assert execution_of_same_age not in await _remaining_executions(database)  # 29 days > 14 (free)


async def test_nothing_to_prune_deletes_nothing(database: Database) -> None:
    user = await create_user(database)
    recent = await _execution(database, user, age_days=1)
    assert (await prune(database, POLICY, now=NOW)).executions == 0
    assert await _remaining_executions(database) == {recent}


async def test_health_check_history_is_pruned_after_its_own_retention(database: Database) -> None:
    ids = {}
    async with database.service_session() as session:
        for age in (8, 6):
            ids[age] = await session.scalar(
                insert(tables.system_status)
                .values(service_name="database", status="healthy", checked_at=NOW - timedelta(days=age))
                .returning(tables.system_status.c.id)
            )

    result = await prune(database, POLICY, now=NOW)

    assert result.status_checks == 1
    async with database.service_session() as session:
        remaining = set((await session.scalars(select(tables.system_status.c.id))).all())
    assert ids[6] in remaining
    assert ids[8] not in remaining
