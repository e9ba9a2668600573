"""Running Autofy's parts in one process: the HTTP API, workers, the scheduler and the monitor.

`autofy serve` runs them all; `autofy api`, `autofy worker` and `autofy scheduler` run one each.
SIGTERM or SIGINT sets one stop event that every part watches, so the process finishes in-flight
work, leaves the embedded database, and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.outbound import OutboundPolicy, outbound_client
from autofy.db.engine import Database
from autofy.engine.config import EngineConfig
from autofy.engine.worker import run_workers
from autofy.status.heartbeat import run_heartbeat
from autofy.status.monitor import run_monitor
from autofy.triggers.scheduler import run_scheduler


@dataclass(frozen=True)
class Parts:
    api: bool = True
    workers: bool = True
    scheduler: bool = True


class _ApiServer(uvicorn.Server):
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
    if parts.workers:
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


def default_api_bases() -> dict[str, str]:
    """Each connector's own API base URL, probed by the health monitor."""
    return {
        connector.service_name: connector.default_api_base
        for connector in catalog().connectors
        if connector.default_api_base
    }
