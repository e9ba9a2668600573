"""Engine workers: pgqueuer's QueueManager running engine jobs, until told to stop.

`run_workers(database_url, settings, stop_event)` is what `autofy worker` and `autofy serve` run.
Each worker process dequeues on one dedicated connection (LISTEN/NOTIFY wakes it when a job is
enqueued) and runs up to `EngineConfig.concurrency` jobs at once on its asyncpg pool. Any number
of worker processes on any number of machines share the queue: a job is picked by one worker at a
time (`FOR UPDATE SKIP LOCKED`).

Liveness. A worker process has one identity for its whole life (pgqueuer's queue_manager_id on
every job it picks) and holds a session-level advisory lock on that identity on its queue
connection. When the process dies the server drops the lock, and the other workers, which check
every `takeover_check`, hand its jobs to the queue at once. A worker that is alive but stuck (its
lock held, its heartbeats stopped) loses its jobs after the lease, as before.

Outliving the database. When the queue connection is lost (a restart, a failover), the worker
connects again with backoff and takes its lock again; jobs in flight keep running meanwhile (their
checkpoints go through the pool, which reconnects on its own) and the new connection beats for
them. Jobs whose end could not be recorded are handed back. The process ends only on a stop
signal or an error that is not the database being away (a wrong password, a missing schema).

On stop (SIGTERM): no new jobs are taken, in-flight jobs get `shutdown_grace` to finish, and any
still running then are handed back to the queue at once (not after their lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from datetime import timedelta

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer.types import QueueManagerId

from autofy.chat.jobs import EMBED_CHAT_MESSAGES, run_embedding_job
from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.outbound import OutboundPolicy
from autofy.db.engine import Database, database_unavailable
from autofy.engine import queue, repository
from autofy.engine.actions import ActionInvoker
from autofy.engine.config import EngineConfig
from autofy.engine.connections import FIXED_PLANS, ServicePool
from autofy.engine.queue import RUN_EXECUTION, ExecutionJob
from autofy.engine.runner import ExecutionRunner, RunState, Superseded
from autofy.notifications.jobs import EMAIL_CONCURRENCY, SEND_NOTIFICATION_EMAIL, NotificationEmails
from autofy.notifications.mail import Mailer
from autofy.observability.logs import execution_id as execution_id_context
from autofy.security.crypto import CredentialCipher

logger = logging.getLogger(__name__)

WORKER_APPLICATION_NAME = "autofy-worker"
INTERNAL_ERROR = "The engine could not run this step: an internal error occurred (it has been logged)."
FIRST_RECONNECT_DELAY = 0.1


async def run_workers(
    database_url: str,
    settings: Settings,
    stop_event: asyncio.Event,
    *,
    config: EngineConfig | None = None,
    policy: OutboundPolicy | None = None,
) -> None:
    """Run engine jobs until `stop_event` is set, then shut down gracefully (module doc)."""
    config = config or EngineConfig.from_settings(settings)
    policy = policy or OutboundPolicy(allow_private_network=settings.outbound_allow_private_network)
    pool = await ServicePool.open(database_url, size=max(2, config.concurrency // 2))
    # LLM clients, built once per integration and reused: by LLM steps and by chat embedding jobs.
    model_clients = ModelClients()
    invoker = ActionInvoker(catalog(), policy, model_clients)
    runner = ExecutionRunner(pool, invoker, CredentialCipher.from_settings(settings), config)
    # Chat embeddings are queued by turns and run here, as their user (RLS), on a small pool.
    chat_database = Database(database_url, pool_size=2)
    # Notification emails too (as the service), on the same small pool: never a run's connection.
    emails = NotificationEmails(chat_database, Mailer.from_settings(settings), settings.external_url)
    sweeping = asyncio.create_task(_sweep_orphans(pool, config, stop_event))
    # What is built by now (modules, the catalog, pools, clients) lives as long as the process: kept
    # out of the cyclic collector's reach, its full passes stop walking it again and again while
    # jobs run (they took a tenth of a busy worker's CPU, docs/performance.md).
    gc.collect()
    gc.freeze()
    try:
        await QueueWorker(database_url, runner, config, chat_database, policy, model_clients, emails).run(
            stop_event
        )
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
        await pool.close()
        await model_clients.aclose()
        await chat_database.dispose()
        await invoker.aclose()


class QueueWorker:
    """This process on the queue: one identity, served over one queue connection at a time."""

    def __init__(
        self,
        database_url: str,
        runner: ExecutionRunner,
        config: EngineConfig,
        chat_database: Database,
        policy: OutboundPolicy,
        model_clients: ModelClients,
        emails: NotificationEmails,
    ) -> None:
        self.database_url = database_url
        self.runner = runner
        self.config = config
        self.chat_database = chat_database
        self.policy = policy
        self.model_clients = model_clients
        self.emails = emails
        self.worker_id = uuid.uuid4()
        # pgqueuer ids of the jobs whose task runs in this process, whichever connection took them.
        self.running_jobs: set[int] = set()
        # The queue managers of lost connections, finishing the jobs they had started.
        self.winding_down: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        delay = FIRST_RECONNECT_DELAY
        while not stop.is_set():
            try:
                connection, driver = await self._connect()
            except Exception as error:
                if not database_unavailable(error):
                    raise  # a configuration error: no retry makes it right
                logger.warning("worker cannot reach the database (%r); retrying in %.1f s", error, delay)
                await _wait(stop, delay)
                delay = min(delay * 2, self.config.reconnect_max.total_seconds())
                continue
            delay = FIRST_RECONNECT_DELAY
            await self._serve(connection, driver, stop)
        # Stopped while reconnecting: the jobs a lost connection started still get their grace.
        await self._stop(list(self.winding_down))

    async def _connect(self) -> tuple[asyncpg.Connection, AsyncpgDriver]:
        # Named, so operators (and the crash tests) see the workers in pg_stat_activity.
        connection = await asyncpg.connect(
            self.database_url,
            server_settings={"application_name": WORKER_APPLICATION_NAME} | FIXED_PLANS,
        )
        driver = AsyncpgDriver(connection)
        try:
            if not await repository.take_worker_lock(driver, self.worker_id):
                raise PreviousSessionAlive("this worker's previous connection still holds its lock")
            # Before dequeuing anything: beat for the jobs still running from a lost connection,
            # and hand back the ones it could not record the end of.
            await self._confirm_jobs(driver)
        except BaseException:
            connection.terminate()
            raise
        return connection, driver

    async def _serve(
        self, connection: asyncpg.Connection, driver: AsyncpgDriver, stop: asyncio.Event
    ) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        manager = QueueManager(Queries(driver))
        manager.queue_manager_id = QueueManagerId(self.worker_id)  # the identity its lock names

        @manager.entrypoint(RUN_EXECUTION)
        async def run_execution(job: Job) -> None:
            await self._run_job(job)

        @manager.entrypoint(EMBED_CHAT_MESSAGES)
        async def embed_chat_messages(job: Job) -> None:
            await run_embedding_job(
                self.chat_database, self.runner.cipher, self.policy, self.model_clients, job.payload
            )

        # At most EMAIL_CONCURRENCY email jobs picked at once over all workers (pgqueuer enforces it
        # in the dequeue): a slow or unreachable mail server can hold no more of the runs' slots.
        @manager.entrypoint(SEND_NOTIFICATION_EMAIL, concurrency_limit=EMAIL_CONCURRENCY)
        async def send_notification_email(job: Job) -> None:
            await self.emails.run(job)

        batch_size = max(1, min(self.config.batch_size, self.config.concurrency // 2))
        running = asyncio.create_task(
            manager.run(
                batch_size=batch_size,
                max_concurrent_tasks=max(self.config.concurrency, 2 * batch_size),
                heartbeat_timeout=self.config.lease,
                dequeue_timeout=timedelta(seconds=5),
            )
        )
        keeping = asyncio.create_task(self._keep(driver))
        stopping = asyncio.create_task(stop.wait())
        losing = asyncio.create_task(lost.wait())
        await asyncio.wait({running, keeping, stopping, losing}, return_when=asyncio.FIRST_COMPLETED)
        manager.shutdown.set()
        try:
            if stop.is_set():
                await self._stop([running, *self.winding_down])
            else:
                try:
                    _raise_unless_database_away(running, keeping)
                except Exception:
                    # Not an outage (a missing schema, a bug): the process ends, its jobs handed back.
                    running.cancel()
                    await asyncio.gather(running, return_exceptions=True)
                    connection.terminate()
                    raise
                logger.warning("worker lost its queue connection; reconnecting (jobs in flight go on)")
                # Whatever ended this connection's turn, it ends for the server too, and with it
                # the lock, which the next connection takes.
                connection.terminate()
                winding_down = asyncio.create_task(_wind_down(running))
                self.winding_down.add(winding_down)
                winding_down.add_done_callback(self.winding_down.discard)
        finally:
            for task in (keeping, stopping, losing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if stop.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), timeout=5)
                connection.terminate()
        if stop.is_set():
            _raise_unless_database_away(running)

    async def _stop(self, managers: list[asyncio.Task[None]]) -> None:
        if not managers:
            return
        _, unfinished = await asyncio.wait(managers, timeout=self.config.shutdown_grace.total_seconds())
        # In-flight jobs that did not finish in time hand themselves back (see _run_job).
        for manager in unfinished:
            manager.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _keep(self, driver: AsyncpgDriver) -> None:
        """Beat for running jobs, hand back lost ones, take over dead workers' jobs; until the
        connection fails (which ends the connection's turn)."""
        next_beat = time.monotonic() + self.config.heartbeat.total_seconds()
        # A statement that does not return within a lease means a connection as good as dead
        # (a half-open TCP connection after a failover never errs on its own).
        answer_within = self.config.lease.total_seconds()
        while True:
            await asyncio.sleep(self.config.takeover_check.total_seconds())
            if time.monotonic() >= next_beat:
                await asyncio.wait_for(self._confirm_jobs(driver), answer_within)
                next_beat = time.monotonic() + self.config.heartbeat.total_seconds()
            taken = await asyncio.wait_for(
                repository.take_over_dead_workers(driver, self.worker_id, grace=self.config.takeover_grace),
                answer_within,
            )
            if taken:
                logger.warning("took over %d jobs of a worker that stopped", taken)

    async def _confirm_jobs(self, driver: AsyncpgDriver) -> None:
        # Idle for two beats: a job that just ended here may wait a moment for pgqueuer to record it.
        handed_back = await repository.confirm_jobs(
            driver, self.worker_id, sorted(self.running_jobs), idle_for=2 * self.config.heartbeat
        )
        if handed_back:
            logger.warning("handed back %d jobs whose end could not be recorded", handed_back)

    async def _run_job(self, job: Job) -> None:
        if job.id in self.running_jobs:
            # Picked again while a task here still runs it (a late beat across a reconnect): that
            # task carries on; this delivery ends, and a run it leaves without a job is swept.
            return
        self.running_jobs.add(job.id)
        try:
            await _run_job(self.runner, self.config, job)
        finally:
            self.running_jobs.discard(job.id)


class PreviousSessionAlive(ConnectionError):
    """The server still runs this worker's previous session (it has not seen its connection
    drop): waiting, as for any outage, lets it notice."""


def _raise_unless_database_away(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled():
            error = task.exception()
            if error is not None and not database_unavailable(error):
                raise error


async def _wind_down(running: asyncio.Task[None]) -> None:
    """Let a lost connection's queue manager finish the jobs it started."""
    try:
        await running
    except Exception as error:
        if not database_unavailable(error):
            logger.exception("a lost connection's queue manager ended with an error")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


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
        try:
            await asyncio.shield(runner.hand_back(execution_job, state))
        except Exception as error:
            if not database_unavailable(error):
                raise
            # The job stays picked under this worker; whoever sees it gone hands it back.
            logger.warning(
                "could not hand back execution %s: the database is away", execution_job.execution_id
            )
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
        except Exception as error:
            # The next sweep starts over; the sweeper must outlive whatever went wrong in this one.
            if database_unavailable(error):
                logger.warning("sweeping for orphaned executions failed (%r); trying again later", error)
            else:
                logger.exception("sweeping for orphaned executions failed; trying again later")
