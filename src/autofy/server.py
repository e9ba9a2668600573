"""Running Autofy's parts in one process: the HTTP API, workers, the scheduler and the monitor.

`autofy serve` runs them all; `autofy api`, `autofy worker` and `autofy scheduler` run one each.
Under `autofy serve` the workers run in processes of their own (`AUTOFY_SERVE_WORKER_PROCESSES`,
spawned and watched by this one): HTTP traffic then cannot take the event loop and the core that
the runs need (measured in docs/performance.md). SIGTERM or SIGINT sets one stop event that every
part watches, so the process (and its worker processes) finish in-flight work, leave the embedded
database, and exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

import uvicorn
import uvloop

from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.outbound import OutboundPolicy, outbound_client
from autofy.db.engine import Database
from autofy.engine.config import EngineConfig
from autofy.engine.worker import run_workers
from autofy.observability.logs import configure_logging
from autofy.status.heartbeat import run_heartbeat
from autofy.status.monitor import run_monitor
from autofy.triggers.scheduler import run_scheduler


@dataclass(frozen=True)
class Parts:
    api: bool = True
    workers: bool = True
    scheduler: bool = True


class _ApiServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What the start-up built (modules, the app, its routes and pools) lives as long as the
        # process: kept out of the cyclic collector's reach, its full passes stop walking it again
        # and again under load, each one a pause every request waits out (as in the worker).
        gc.collect()
        gc.freeze()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Autofy's own handlers stop every part of the process, not only HTTP; uvicorn's would
        # re-raise the signal after shutdown and kill the process before it leaves the database.
        yield


async def _serve_api(settings: Settings, database_url: str, stop: asyncio.Event) -> None:
    # Imported here: a worker or scheduler process never loads the web app (start-up time).
    from autofy.app import create_app

    app = create_app(settings, database_url)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through Autofy's JSON log handler
        access_log=False,  # Autofy logs each request by route template, never its raw path
        lifespan="on",
    )
    server = _ApiServer(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    app.state.stopping.set()
    server.should_exit = True
    stopping.cancel()
    await serving
    stop.set()  # if the API ended on its own (port taken), the rest must not run headless


async def run(settings: Settings, database_url: str, parts: Parts) -> None:
    """Run the chosen parts until SIGTERM/SIGINT, then stop them all."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    database = Database(database_url, pool_size=settings.db_pool_size)
    policy = OutboundPolicy(allow_private_network=settings.outbound_allow_private_network)
    http = outbound_client(policy)
    tasks: list[Awaitable[None]] = []
    if parts.api:
        tasks.append(_serve_api(settings, database_url, stop))
    if parts.workers and parts.api and settings.serve_worker_processes:
        tasks.append(_run_worker_processes(settings, database_url, stop))
    elif parts.workers:
        config = EngineConfig.from_settings(settings)
        tasks.append(run_workers(database_url, settings, stop, config=config))
        tasks.append(run_heartbeat(database, "worker", stop))
    if parts.scheduler:
        tasks.append(run_scheduler(database_url, settings, stop))
        tasks.append(run_heartbeat(database, "scheduler", stop))
        tasks.append(run_monitor(database, settings, http, default_api_bases(), stop))
    try:
        outcomes = await asyncio.gather(
            *(_until_stopped(task, stop) for task in tasks), return_exceptions=True
        )
    finally:
        await http.aclose()
        await database.dispose()
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise failures[0]


async def _until_stopped(part: Awaitable[None], stop: asyncio.Event) -> None:
    try:
        await part
    finally:
        # A part that ends (or fails) stops the others: no process goes on running half of itself.
        stop.set()


logger = logging.getLogger(__name__)
WORKER_PROCESS_CHECK_SECONDS = 0.5
# Beyond the workers' own shutdown grace, before a worker process that will not stop is killed.
WORKER_PROCESS_EXIT_MARGIN_SECONDS = 10


class WorkerProcessEnded(RuntimeError):
    """A worker process of `autofy serve` ended on its own: the whole server stops with it."""


async def _run_worker_processes(settings: Settings, database_url: str, stop: asyncio.Event) -> None:
    """Spawn `serve_worker_processes` worker processes; stop them when `stop` is set."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_process, args=(settings, database_url), name=f"autofy-worker-{number}")
        for number in range(settings.serve_worker_processes)
    ]
    for process in processes:
        process.start()
    try:
        while not stop.is_set():
            ended = [process for process in processes if process.exitcode is not None]
            if ended:
                if all(process.exitcode == 0 for process in ended):
                    return  # stopped by the same signal as this process (Ctrl-C reaches both)
                raise WorkerProcessEnded(
                    f"worker process {ended[0].name} exited with code {ended[0].exitcode}"
                )
            await _wait(stop, WORKER_PROCESS_CHECK_SECONDS)
    finally:
        for process in processes:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: in-flight steps get their grace, the rest go back
        deadline = settings.worker_shutdown_grace_seconds + WORKER_PROCESS_EXIT_MARGIN_SECONDS
        await asyncio.to_thread(_reap, processes, deadline)


def _reap(processes: Sequence[BaseProcess], within_seconds: float) -> None:
    give_up_at = time.monotonic() + within_seconds
    for process in processes:
        process.join(max(0.0, give_up_at - time.monotonic()))
        if process.exitcode is None:
            logger.error("worker process %s did not stop in time; killing it", process.name)
            process.kill()
            process.join()


def _worker_process(settings: Settings, database_url: str) -> None:
    """A worker process of `autofy serve`: the workers and their heartbeat, until SIGTERM."""
    configure_logging(settings.log_level)
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    uvloop.run(run(settings, database_url, Parts(api=False, scheduler=False)))


def _stop_when_orphaned(parent: int) -> None:
    # A `kill -9` of `autofy serve` must not leave its workers running on their own.
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def default_api_bases() -> dict[str, str]:
    """Each connector's own API base URL, probed by the health monitor."""
    return {
        connector.service_name: connector.default_api_base
        for connector in catalog().connectors
        if connector.default_api_base
    }
