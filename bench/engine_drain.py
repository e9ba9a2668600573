"""The engine alone: how fast workers drain a backlog of queued executions, and what each costs.

    python -m bench.engine_drain --executions 3000 --worker-processes 2
    python -m bench.engine_drain --one-job-per-step     # the alternative checkpoint policy

Queues `--executions` runs of the benchmark workflow (bench/webhook.py: set_fields then
format_text) with `start_execution`, then starts worker processes and reports completed
executions/s, the transactions committed per execution (pg_stat_database.xact_commit), and the CPU
each execution cost the workers and the PostgreSQL server (from the first completion to the last,
so the workers' start-up is left out; the server's processes that ended meanwhile are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import secrets
import signal
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.engine.config import EngineConfig
from autofy.engine.service import start_execution
from autofy.engine.worker import run_workers
from autofy.runtime import generate_encryption_key
from bench.database import migrated_database
from bench.webhook import create_workflow
from bench.webhook_load import cpu_seconds, descendants


async def queue_backlog(database_url: str, executions: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        _, workflow_id = await create_workflow(connection, "Drain")
    finally:
        await connection.close()
    database = Database(database_url)
    try:
        for first in range(0, executions, 200):
            async with database.service_session() as session:
                for n in range(first, min(first + 200, executions)):
                    await start_execution(
                        session,
                        workflow_id=workflow_id,
                        trigger_type="webhook",
                        trigger_data={"body": {"customer": "ada@example.com", "n": n}},
                    )
    finally:
        await database.dispose()


def work(database_url: str, config: EngineConfig) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        jwt_secret=SecretStr(secrets.token_urlsafe(48)),
        encryption_keys=SecretStr(generate_encryption_key()),
    )

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run_workers(database_url, settings, stop, config=config)

    import uvloop

    uvloop.install()
    asyncio.run(serve())


async def counters(connection: asyncpg.Connection) -> tuple[int, int]:
    """Transactions committed so far, and executions still running (cheap: polled while draining)."""
    row = await connection.fetchrow(
        "select xact_commit, (select count(*) from workflow_executions where execution_status = 'running')"
        " as running from pg_stat_database where datname = current_database()"
    )
    return int(row["xact_commit"]), int(row["running"])


async def server_process(connection: asyncpg.Connection) -> int:
    """The PostgreSQL server's main process (its backends and helpers are its children)."""
    return parent_of(int(await connection.fetchval("select pg_backend_pid()")))


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def cpu_by_process(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


@dataclasses.dataclass
class CpuMark:
    """The CPU spent so far by the workers and by the server, when `completed` runs had ended."""

    completed: int
    workers: float
    server: dict[int, float]

    @classmethod
    def take(cls, completed: int, workers: list[int], server: int) -> CpuMark:
        return cls(completed, cpu_seconds(workers), cpu_by_process(descendants(server)))

    def per_execution_ms(self, start: CpuMark) -> dict[str, float]:
        executions = max(self.completed - start.completed, 1)
        server = sum(seconds - start.server.get(pid, 0.0) for pid, seconds in self.server.items())
        return {
            "workers": round(1000 * (self.workers - start.workers) / executions, 3),
            "server": round(1000 * server / executions, 3),
        }


async def steady_rate(database_url: str) -> float:
    """Executions/s between the first and the last completion (worker start-up left out)."""
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "select count(*) as n, extract(epoch from max(completed_at) - min(completed_at)) as span "
            "from workflow_executions"
        )
        return round(int(row["n"]) / float(row["span"]), 1)
    finally:
        await connection.close()


async def drain(database_url: str, arguments: argparse.Namespace) -> dict[str, Any]:
    await queue_backlog(database_url, arguments.executions)
    total = arguments.executions
    await asyncio.sleep(1)  # let the statistics collector catch up before the baseline
    # One connection for the polls, whose server process is counted with the server's CPU.
    polling = await asyncpg.connect(database_url)
    try:
        commits_before, _ = await counters(polling)
        config = dataclasses.replace(
            EngineConfig(),
            concurrency=arguments.concurrency,
            batch_size=arguments.batch_size,
            chain_instant_steps=not arguments.one_job_per_step,
        )
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=work, args=(database_url, config))
            for _ in range(arguments.worker_processes)
        ]
        server = await server_process(polling)
        began = time.monotonic()
        for process in processes:
            process.start()
        workers = [process.pid or 0 for process in processes]
        first: CpuMark | None = None
        try:
            while True:
                await asyncio.sleep(0.25)
                _, running = await counters(polling)
                if first is None and running < total:
                    first = CpuMark.take(total - running, workers, server)
                if running == 0:
                    break
            elapsed = time.monotonic() - began
            last = CpuMark.take(total, workers, server)
        finally:
            for process in processes:
                os.kill(process.pid or 0, signal.SIGTERM)
            for process in processes:
                process.join(timeout=60)
        await asyncio.sleep(1)
        commits_after, _ = await counters(polling)
    finally:
        await polling.close()
    steady = await steady_rate(database_url)
    return {
        "executions": total,
        "worker_processes": arguments.worker_processes,
        "concurrency": arguments.concurrency,
        "batch_size": arguments.batch_size,
        "policy": "one job per step" if arguments.one_job_per_step else "instant steps chained",
        "seconds_including_worker_start": round(elapsed, 2),
        "completed_per_second": steady,
        "commits_per_execution": round((commits_after - commits_before) / total, 2),
        "cpu_ms_per_execution": last.per_execution_ms(first or last),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=EngineConfig.batch_size, help="jobs per dequeue")
    parser.add_argument("--one-job-per-step", action="store_true")
    arguments = parser.parse_args()
    with ExitStack() as stack:
        database_url = migrated_database(stack, "autofy_drain")
        print(json.dumps(asyncio.run(drain(database_url, arguments)), indent=2))


if __name__ == "__main__":
    main()
