"""The health monitor: periodic checks recorded as `system_status` rows.

Each check reports `healthy`, `degraded` or `down` by the thresholds below (documented in
docs/operations.md). Checks run in the scheduler process; with several schedulers running, a
transaction-level advisory lock lets one of them check per round.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.connectors.sdk import ConnectorError
from autofy.db import tables
from autofy.db.engine import Database

Status = Literal["healthy", "degraded", "down"]

# Thresholds (milliseconds or seconds, as named).
DATABASE_DEGRADED_MS = 250
QUEUE_DEGRADED_AGE_S = 30.0
QUEUE_DOWN_AGE_S = 300.0
HEARTBEAT_DEGRADED_AGE_S = 30.0
HEARTBEAT_DOWN_AGE_S = 120.0
SERVICE_DEGRADED_MS = 2000
SERVICE_TIMEOUT_S = 10.0

CHECK_LOCK_ID = 7_244_101_002
# What system_status shows instead of a base URL an integration configured.


@dataclass
class Check:
    service_name: str
    status: Status
    response_time: int | None = None
    error_message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _by_latency(milliseconds: int, degraded_at: int) -> Status:
    return "healthy" if milliseconds < degraded_at else "degraded"


def _by_age(age_seconds: float | None, degraded_at: float, down_at: float) -> Status:
    if age_seconds is None or age_seconds < degraded_at:
        return "healthy"
    return "degraded" if age_seconds < down_at else "down"


async def check_database(session: AsyncSession) -> Check:
    started = time.perf_counter()
    await session.execute(text("select 1"))
    elapsed = round((time.perf_counter() - started) * 1000)
    return Check("database", _by_latency(elapsed, DATABASE_DEGRADED_MS), response_time=elapsed)


async def check_queue(session: AsyncSession) -> Check:
    """Jobs due now and how long the oldest has waited: a growing age means nobody drains it."""
    row = (
        await session.execute(
            text(
                "select count(*) as depth, extract(epoch from now() - min(execute_after)) as age "
                "from pgqueuer where status = 'queued' and execute_after <= now()"
            )
        )
    ).one()
    age = float(row.age) if row.age is not None else None
    status = _by_age(age, QUEUE_DEGRADED_AGE_S, QUEUE_DOWN_AGE_S)
    return Check(
        "queue",
        status,
        error_message=None if status == "healthy" else f"oldest job has waited {age:.0f} s",
        metadata={"depth": int(row.depth), "oldest_job_age_seconds": age},
    )


async def check_heartbeats(session: AsyncSession, kind: Literal["worker", "scheduler"]) -> Check:
    """Live processes of a kind, by their newest heartbeat; none recent means the kind is down."""
    row = (
        await session.execute(
            text(
                "select count(*) filter (where last_seen_at > now() - make_interval(secs => :live)) "
                "as alive, extract(epoch from now() - max(last_seen_at)) as age "
                "from autofy_heartbeats where kind = :kind"
            ),
            {"kind": kind, "live": HEARTBEAT_DEGRADED_AGE_S},
        )
    ).one()
    age = float(row.age) if row.age is not None else None
    status: Status = "down" if age is None else _by_age(age, HEARTBEAT_DEGRADED_AGE_S, HEARTBEAT_DOWN_AGE_S)
    name = "workers" if kind == "worker" else "scheduler"
    message = None
    if status != "healthy":
        message = f"no {kind} has reported" if age is None else f"last {kind} heartbeat {age:.0f} s ago"
    return Check(name, status, error_message=message, metadata={"alive": int(row.alive)})


async def check_service(service_name: str, base_url: str, http: httpx.AsyncClient) -> Check:
    """Reachability of a service's API: any HTTP answer counts, since no credentials are sent.

    Using a user's credentials would spend their quota; an unauthenticated request to the API's
    base URL is the cheapest call that proves the service answers.
    """
    started = time.perf_counter()
    try:
        await http.get(base_url, timeout=SERVICE_TIMEOUT_S)
    except (httpx.HTTPError, ConnectorError) as error:  # ConnectorError: the outbound guard refused
        return Check(
            service_name,
            "down",
            error_message=f"unreachable: {type(error).__name__}",
            metadata={"base_url": base_url},
        )
    elapsed = round((time.perf_counter() - started) * 1000)
    return Check(
        service_name,
        _by_latency(elapsed, SERVICE_DEGRADED_MS),
        response_time=elapsed,
        metadata={"base_url": base_url},
    )


async def services_in_use(session: AsyncSession) -> list[str]:
    """Services at least one active integration uses: the ones worth watching."""
    rows = await session.scalars(
        text("select distinct service_name from integrations where status = 'active' order by 1")
    )
    return list(rows)


async def run_checks(
    database: Database,
    http: httpx.AsyncClient,
    default_bases: Callable[[str], str | None],
) -> list[Check] | None:
    """One round of checks, recorded; None when another scheduler holds this round."""
    async with database.service_session() as session:
        # the monitor spans every tenant's integrations and writes system_status: service role
        if not await session.scalar(text("select pg_try_advisory_xact_lock(:id)"), {"id": CHECK_LOCK_ID}):
            return None
        checks = [
            await check_database(session),
            await check_queue(session),
            await check_heartbeats(session, "worker"),
            await check_heartbeats(session, "scheduler"),
        ]
        # Only each service's own API is probed: an integration's custom `api_base` is its owner's
        # server, whose address system_status (readable by every tenant) must not show, and whose
        # outage must not mark the service down for everyone.
        probes: list[Awaitable[Check]] = [
            check_service(service, base, http)
            for service in await services_in_use(session)
            if (base := default_bases(service)) is not None
        ]
        checks += await asyncio.gather(*probes)
        now = datetime.now(UTC)
        await session.execute(
            insert(tables.system_status),
            [
                {
                    "service_name": check.service_name,
                    "status": check.status,
                    "response_time": check.response_time,
                    "error_message": check.error_message,
                    "metadata": check.metadata,
                    "checked_at": now,
                }
                for check in checks
            ],
        )
    return checks
