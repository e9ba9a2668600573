"""Engine workers: pgqueuer's QueueManager running engine jobs, until told to stop.

`run_workers(database_url, settings, stop_event)` is what `autofy worker` and `autofy serve` run.
Each worker process dequeues on one dedicated connection (LISTEN/NOTIFY wakes it when a job is
enqueued) and runs up to `EngineConfig.concurrency` jobs at once on its SQLAlchemy pool. Any
number of worker processes on any number of machines share the queue: a job is picked by one
worker at a time (`FOR UPDATE SKIP LOCKED`), and a job whose worker stopped sending heartbeats for
a lease is picked again by another.

On stop (SIGTERM): no new jobs are taken, in-flight jobs get `shutdown_grace` to finish, and any
still running then are handed back to the queue at once (not after their lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries

from autofy.chat.jobs import EMBED_CHAT_MESSAGES, run_embedding_job
from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.outbound import OutboundPolicy
from autofy.db.engine import Database
from autofy.engine import queue, repository
from autofy.engine.actions import ActionInvoker
from autofy.engine.config import EngineConfig
from autofy.engine.connections import ServicePool
from autofy.engine.queue import RUN_EXECUTION, ExecutionJob
from autofy.engine.runner import ExecutionRunner, RunState, Superseded
from autofy.observability.logs import execution_id as execution_id_context
from autofy.security.crypto import CredentialCipher

logger = logging.getLogger(__name__)

WORKER_APPLICATION_NAME = "autofy-worker"
INTERNAL_ERROR = "The engine could not run this step: an internal error occurred (it has been logged)."


async def run_workers(
    database_url: str,
    settings: Settings,
    stop_event: asyncio.Event,
    *,
    config: EngineConfig | None = None,
    policy: OutboundPolicy | None = None,
) -> None:
    """Run engine jobs until `stop_event` is set, then shut down gracefully (module doc)."""
    config = config or EngineConfig()
    policy = policy or OutboundPolicy(allow_private_network=settings.outbound_allow_private_network)
    pool = await ServicePool.open(database_url, size=max(2, config.concurrency // 2))
    runner = ExecutionRunner(
        pool, ActionInvoker(catalog(), policy), CredentialCipher.from_settings(settings), config
    )
    # Chat embeddings are queued by turns and run here, as their user (RLS), on a small pool.
    chat_database = Database(database_url, pool_size=2)
    # Named, so operators (and the crash tests) see the workers in pg_stat_activity.
    connection = await asyncpg.connect(
        database_url, server_settings={"application_name": WORKER_APPLICATION_NAME}
    )
    try:
        manager = QueueManager(Queries(AsyncpgDriver(connection)))

        @manager.entrypoint(RUN_EXECUTION)
        async def run_execution(job: Job) -> None:
            await _run_job(runner, config, job)

        @manager.entrypoint(EMBED_CHAT_MESSAGES)
        async def embed_chat_messages(job: Job) -> None:
            await run_embedding_job(chat_database, runner.cipher, policy, job.payload)

        batch_size = max(1, min(config.batch_size, config.concurrency // 2))
        running = asyncio.create_task(
            manager.run(
                batch_size=batch_size,
                max_concurrent_tasks=max(config.concurrency, 2 * batch_size),
                heartbeat_timeout=config.lease,
                dequeue_timeout=timedelta(seconds=5),
            )
        )
        sweeping = asyncio.create_task(_sweep_orphans(pool, config, stop_event))
        stopping = asyncio.create_task(stop_event.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        manager.shutdown.set()
        stop_event.set()
        try:
            await asyncio.wait_for(asyncio.shield(running), config.shutdown_grace.total_seconds())
        except TimeoutError:
            # In-flight jobs that did not finish in time hand themselves back (see _run_job).
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        for task in (sweeping, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not running.cancelled() and running.exception() is not None:
            raise running.exception()  # type: ignore[misc]
    finally:
        await connection.close()
        await pool.close()
        await chat_database.dispose()


async def _run_job(runner: ExecutionRunner, config: EngineConfig, job: Job) -> None:
    execution_job = ExecutionJob.decode(job.payload)
    state: RunState | None = None
    # Every log line of this job names its execution (asyncio tasks copy the context, so the
    # value stays with this job).
    execution_id_context.set(str(execution_job.execution_id))
    try:
        state = await runner.load(execution_job)
        if state is not None:
            await runner.run(state)
    except Superseded:
        logger.info("execution %s moved on without this job; nothing recorded", execution_job.execution_id)
    except asyncio.CancelledError:
        await asyncio.shield(runner.hand_back(execution_job, state))
        raise
    except Exception as error:
        logger.exception("engine job for execution %s failed", execution_job.execution_id)
        if job.attempts < config.max_internal_retries:
            # The same job again later (pgqueuer re-queues it); the run continues from its checkpoint.
            raise RetryRequested(delay=timedelta(seconds=2**job.attempts), reason=str(error)) from error
        await runner.fail_internal(execution_job, INTERNAL_ERROR)


async def _sweep_orphans(pool: ServicePool, config: EngineConfig, stop_event: asyncio.Event) -> None:
    """Re-queue running executions whose job vanished, so none stays `running` for good."""
    while not stop_event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), config.sweep_interval.total_seconds())
        if stop_event.is_set():
            return
        try:
            async with pool.transaction() as connection:
                orphans = await repository.orphaned_executions(
                    connection, older_than_seconds=2 * config.lease.total_seconds()
                )
                for token in orphans:
                    if await repository.move_job_seq(connection, token):
                        await queue.enqueue(connection, ExecutionJob(token.execution_id, token.job_seq + 1))
            if orphans:
                logger.warning("re-queued %d executions whose job had vanished", len(orphans))
        except (OSError, asyncpg.PostgresError):
            logger.exception("sweeping for orphaned executions failed; trying again later")
