"""Retention: delete finished executions older than the owner's plan allows, and old audit logs.

Pruning works in bounded batches, each its own short transaction, so it never holds long locks
and can run beside live traffic (rows another transaction holds are skipped, not waited for).
It runs as the service role: it spans every tenant, and users cannot delete their history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.retention import repository

BatchReport = Callable[[int], None]


@dataclass(frozen=True)
class RetentionPolicy:
    free_days: int
    pro_days: int
    enterprise_days: int
    audit_days: int
    status_days: int
    batch_size: int
    notification_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            free_days=settings.retention_days_free,
            pro_days=settings.retention_days_pro,
            enterprise_days=settings.retention_days_enterprise,
            audit_days=settings.audit_retention_days,
            status_days=settings.status_retention_days,
            notification_days=settings.notification_retention_days,
            batch_size=settings.prune_batch_size,
        )


@dataclass(frozen=True)
class PruneResult:
    executions: int
    audit_logs: int
    status_checks: int
    notifications: int


async def _in_batches(
    database: Database,
    delete_batch: Callable[..., Awaitable[int]],
    batch_size: int,
    on_batch: BatchReport | None,
    **arguments: object,
) -> int:
    total = 0
    while True:
        async with database.service_session() as session:
            deleted = await delete_batch(session, batch_size=batch_size, **arguments)
        total += deleted
        if on_batch is not None and deleted:
            on_batch(deleted)
        if deleted < batch_size:
            return total


async def prune(
    database: Database,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    on_batch: BatchReport | None = None,
) -> PruneResult:
    """Delete everything past retention as of `now`; `on_batch` hears each batch's row count."""
    moment = now or datetime.now(UTC)
    executions = await _in_batches(
        database,
        repository.delete_expired_executions,
        policy.batch_size,
        on_batch,
        now=moment,
        free_days=policy.free_days,
        pro_days=policy.pro_days,
        enterprise_days=policy.enterprise_days,
    )
    aged: dict[str, int] = {}
    for table, days in (
        ("audit_logs", policy.audit_days),
        ("system_status", policy.status_days),
        ("notifications", policy.notification_days),
    ):
        aged[table] = await _in_batches(
            database,
            repository.delete_aged_rows,
            policy.batch_size,
            on_batch,
            table=table,
            now=moment,
            days=days,
        )
    return PruneResult(
        executions=executions,
        audit_logs=aged["audit_logs"],
        status_checks=aged["system_status"],
        notifications=aged["notifications"],
    )
