"""Engine test harness: real workers (the production `run_workers`) on the test's database,
the fake side-effect server, and waiting for executions with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from autofy.config import Settings
from autofy.connectors.outbound import OutboundPolicy
from autofy.db import tables
from autofy.db.engine import Database
from autofy.engine.config import EngineConfig
from autofy.engine.worker import run_workers
from tests.fakes.engine_effects import EngineEffects

FINISHED = ("completed", "failed", "cancelled")

# Short enough that retries, leases and sweeps happen within a test's seconds.
TEST_ENGINE_CONFIG = EngineConfig(
    concurrency=8,
    batch_size=4,
    lease=timedelta(seconds=2),
    heartbeat=timedelta(milliseconds=500),
    takeover_check=timedelta(milliseconds=200),
    reconnect_max=timedelta(milliseconds=500),
    shutdown_grace=timedelta(seconds=5),
    retry_base_delay=timedelta(milliseconds=50),
    retry_max_delay=timedelta(milliseconds=300),
    sweep_interval=timedelta(seconds=1),
)
# The fakes listen on loopback, which production refuses for user-chosen URLs.
TEST_POLICY = OutboundPolicy(allow_private_network=True)

StartWorker = Callable[..., Any]


@pytest.fixture
def effects() -> Iterator[EngineEffects]:
    with EngineEffects().running() as server:
        assert isinstance(server, EngineEffects)
        yield server


@pytest.fixture
def start_worker(database_url: str, api_settings: Settings) -> StartWorker:
    """`async with start_worker(config=...)`: a worker running for the block, stopped after it."""

    @asynccontextmanager
    async def start(config: EngineConfig = TEST_ENGINE_CONFIG) -> AsyncIterator[asyncio.Task[None]]:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_workers(database_url, api_settings, stop, config=config, policy=TEST_POLICY)
        )
        try:
            yield task
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)

    return start


@pytest.fixture
async def worker(start_worker: StartWorker) -> AsyncIterator[None]:
    async with start_worker():
        yield


async def execution_row(database: Database, execution_id: uuid.UUID) -> Any:
    async with database.service_session() as session:
        return (
            await session.execute(
                select(tables.workflow_executions).where(tables.workflow_executions.c.id == execution_id)
            )
        ).one()


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for(check: Callable[[], bool], *, within: float = 20.0, what: str = "condition") -> None:
    async def holds() -> bool:
        return check()

    await wait_until(holds, within=within, what=what)


async def queued_jobs(database: Database) -> int:
    async with database.service_session() as session:
        return int(await session.scalar(text("select count(*) from pgqueuer")) or 0)


async def no_queued_jobs(database: Database) -> bool:
    return await queued_jobs(database) == 0


async def wait_finished(database: Database, execution_id: uuid.UUID, *, within: float = 20.0) -> Any:
    async def finished() -> bool:
        return (await execution_row(database, execution_id)).execution_status in FINISHED

    await wait_until(finished, within=within, what=f"execution {execution_id} to finish")
    return await execution_row(database, execution_id)
