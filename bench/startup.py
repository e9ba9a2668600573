"""How long the `autofy` command takes to start: what a person waits for, and a worker's recovery time.

    python -m bench.startup                  # embedded PostgreSQL in a temporary folder
    python -m bench.startup --runs 9

For each of `--runs` runs (after one warm-up), as separate processes:
1. `autofy --help`: CPU seconds (user + system, from the kernel's accounting) and wall seconds;
2. `autofy db status` against the database: the same;
3. `autofy worker` with one execution already queued: wall seconds from spawning the process to
   that execution being completed (imports, settings, migrations check, connecting, pgqueuer, the
   run itself), and the CPU seconds the worker had used by then (wall time on a busy machine
   mostly measures the other processes).
Prints the median, minimum and maximum of each as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import asyncpg
import psutil

from autofy.runtime import generate_encryption_key
from bench.database import migrated_database
from bench.engine_drain import queue_backlog

AUTOFY = [sys.executable, "-m", "autofy"]


def timed(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one finished command."""
    began = time.monotonic()
    process = subprocess.Popen(  # noqa: S603
        arguments, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed with exit code {process.returncode}")
    return usage.ru_utime + usage.ru_stime, time.monotonic() - began


async def completed_executions(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "select count(*) from workflow_executions where execution_status = 'completed'"
        )
        return count
    finally:
        await connection.close()


def worker_to_first_completion(database_url: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds from spawning `autofy worker` to the completion of an execution
    queued before."""
    asyncio.run(queue_backlog(database_url, 1))
    done_before = asyncio.run(completed_executions(database_url))
    began = time.monotonic()
    worker = subprocess.Popen(  # noqa: S603
        [*AUTOFY, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while asyncio.run(completed_executions(database_url)) == done_before:
            if worker.poll() is not None:
                raise SystemExit(f"autofy worker exited with code {worker.returncode}")
            if time.monotonic() - began > 120:
                raise SystemExit("autofy worker did not complete the queued execution within 120 s")
            time.sleep(0.02)  # polling a separate process: nothing to wait on but time
        wall = time.monotonic() - began
        cpu = psutil.Process(worker.pid).cpu_times()
        return wall, cpu.user + cpu.system
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def measure(runs: int, sample: Callable[[], float]) -> dict[str, float]:
    sample()  # warm-up: page cache, bytecode
    return spread([sample() for _ in range(runs)])


def run(database_url: str, runs: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "AUTOFY_DATABASE_URL": database_url,
        "AUTOFY_JWT_SECRET": secrets.token_urlsafe(48),
        "AUTOFY_ENCRYPTION_KEYS": generate_encryption_key(),
        "AUTOFY_LOG_LEVEL": "WARNING",
    }
    help_command = [*AUTOFY, "--help"]
    status_command = [*AUTOFY, "db", "status"]
    return {
        "runs": runs,
        "cpus": os.cpu_count(),
        "help_cpu_s": measure(runs, lambda: timed(help_command, env)[0]),
        "help_wall_s": measure(runs, lambda: timed(help_command, env)[1]),
        "db_status_cpu_s": measure(runs, lambda: timed(status_command, env)[0]),
        "db_status_wall_s": measure(runs, lambda: timed(status_command, env)[1]),
        "worker_start_to_first_completion_wall_s": measure(
            runs, lambda: worker_to_first_completion(database_url, env)[0]
        ),
        "worker_start_to_first_completion_cpu_s": measure(
            runs, lambda: worker_to_first_completion(database_url, env)[1]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    with ExitStack() as stack:
        database_url = migrated_database(stack, "autofy_startup")
        print(json.dumps(run(database_url, arguments.runs), indent=2))


if __name__ == "__main__":
    main()
