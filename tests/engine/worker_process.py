"""Worker processes for the crash tests, forked from a server that imported Autofy once.

Importing Autofy (its connectors pull in LangChain) takes seconds; the crash tests start many
workers, so they fork them from multiprocessing's fork server, which preloads this module. Each
child runs the production `run_workers` with the engine tests' short lease (or the config the
test passes) until SIGTERM, or until the test kills it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import signal
from datetime import timedelta
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

from pydantic import SecretStr

from autofy.config import Settings
from autofy.engine.config import EngineConfig
from autofy.engine.worker import run_workers
from tests.engine.conftest import TEST_ENGINE_CONFIG

# At most two jobs at once per process (pgqueuer's floor: twice the batch size of one), so a kill
# costs at most two step re-runs, which the tests count.
CRASH_TEST_CONFIG = dataclasses.replace(
    TEST_ENGINE_CONFIG, concurrency=2, batch_size=1, lease=timedelta(seconds=3)
)


async def _work(settings: Settings, config: EngineConfig) -> None:
    assert settings.database_url is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_workers(settings.database_url, settings, stop, config=config)


def work(database_url: str, jwt_secret: str, encryption_keys: str, config: EngineConfig) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        jwt_secret=SecretStr(jwt_secret),
        encryption_keys=SecretStr(encryption_keys),
        outbound_allow_private_network=True,  # the fakes listen on loopback
    )
    asyncio.run(_work(settings, config))


def fork_server() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def spawn(
    context: ForkServerContext, settings: Settings, config: EngineConfig = CRASH_TEST_CONFIG
) -> BaseProcess:
    assert settings.database_url is not None
    assert settings.jwt_secret is not None
    assert settings.encryption_keys is not None
    process = context.Process(
        target=work,
        args=(
            settings.database_url,
            settings.jwt_secret.get_secret_value(),
            settings.encryption_keys.get_secret_value(),
            config,
        ),
        daemon=True,
    )
    process.start()
    return process
