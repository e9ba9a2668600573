"""Webhook-triggered executions through a running Autofy: throughput and latencies.

    python -m bench.webhook                      # embedded PostgreSQL in a temporary folder
    AUTOFY_DATABASE_URL=postgresql://… python -m bench.webhook --total 5000

Starts `autofy serve` (or `autofy api` plus `--worker-processes` × `autofy worker`) on a fresh database,
creates one active webhook workflow (trigger + core/set_fields + core/format_text), then:
1. saturation: `--total` webhooks sent with `--concurrency` in flight: completed executions/s;
2. steady load: `--rate` webhooks/s for `--seconds`: webhook acknowledgement latency p50/p99
   and acknowledgement-to-completion p50/p99. httpx costs ~1 ms of CPU per request in this
   process, on the server's cores: for fixed rates above ~100/s use
   `python -m bench.webhook_load --rate R` (bench/open_loop.py, ~0.15 ms per request).
PostgreSQL runs with its default durability (synchronous_commit on; the report says so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from autofy.runtime import generate_encryption_key
from bench.database import migrated_database

REPOSITORY = Path(__file__).resolve().parents[1]
STEPS = [
    (
        "action",
        "core",
        "set_fields",
        {"fields": {"customer": "{{ trigger.body.customer }}", "n": "{{ trigger.body.n }}"}},
    ),
    (
        "action",
        "core",
        "format_text",
        {"operation": "upper", "text": "order {{ steps.set_fields.n }} for {{ steps.set_fields.customer }}"},
    ),
]


@dataclass
class Sample:
    sent_at: float
    acked_at: float
    execution_id: uuid.UUID


@dataclass
class Phase:
    name: str
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    refused: int = 0  # 503: overloaded, answered at once
    # The load generator's own CPU (this process, httpx): it shares the two cores with the server.
    generator_cpu_seconds: float | None = None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def create_workflow(connection: asyncpg.Connection, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A user with unlimited credits and their active webhook workflow of STEPS; (user, workflow)."""
    user_id = uuid.uuid4()
    await connection.execute(
        "insert into auth.users (id, email) values ($1, $2)",
        user_id,
        f"{name.lower()}-{user_id.hex[:8]}@example.com",
    )
    await connection.execute("update profiles set credits_limit = 2000000000 where id = $1", user_id)
    workflow_id: uuid.UUID = await connection.fetchval(
        "insert into workflows (user_id, name, status, trigger_type) values ($1, $2, 'active', 'webhook') returning id",
        user_id,
        name,
    )
    for order, (step_type, service, action, configuration) in enumerate(STEPS, start=1):
        await connection.execute(
            "insert into workflow_steps (workflow_id, step_order, step_type, service_name, action_name, configuration) "
            "values ($1, $2, $3, $4, $5, $6::jsonb)",
            workflow_id,
            order,
            step_type,
            service,
            action,
            json.dumps(configuration),
        )
    return user_id, workflow_id


async def seed(database_url: str) -> str:
    """One user, one active webhook workflow with two built-in steps; the webhook token."""
    connection = await asyncpg.connect(database_url)
    try:
        user_id, workflow_id = await create_workflow(connection, "Bench")
        token = secrets.token_urlsafe(32)
        await connection.execute(
            "insert into workflow_webhooks (workflow_id, user_id, token, signing_secret) values ($1, $2, $3, $4)",
            workflow_id,
            user_id,
            token,
            secrets.token_urlsafe(32),
        )
        return token
    finally:
        await connection.close()


async def fire(client: httpx.AsyncClient, url: str, n: int, phase: Phase) -> None:
    sent = time.time()
    try:
        response = await client.post(url, json={"customer": "ada@example.com", "n": n})
    except httpx.HTTPError:
        phase.errors += 1
        return
    if response.status_code == 503:
        phase.refused += 1
        return
    if response.status_code != 202:
        phase.errors += 1
        return
    phase.samples.append(Sample(sent, time.time(), uuid.UUID(response.json()["execution_id"])))


async def saturate(url: str, total: int, concurrency: int) -> Phase:
    phase = Phase("saturation")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(total):
            queue.put_nowait(n)

        async def sender() -> None:
            while not queue.empty():
                await fire(client, url, queue.get_nowait(), phase)

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return phase


async def steady(url: str, rate: float, seconds: float) -> Phase:
    """Open loop: a request every 1/rate s whatever the answers do (up to 200 connections)."""
    phase = Phase(f"steady {rate:g}/s")
    cpu_before = time.process_time()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=60) as client:
        began = time.monotonic()
        tasks = []
        for n in range(int(rate * seconds)):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(client, url, n, phase)))
        await asyncio.gather(*tasks)
    phase.generator_cpu_seconds = time.process_time() - cpu_before
    return phase


async def completions(
    database_url: str, phase: Phase, deadline: float
) -> dict[uuid.UUID, tuple[str, float | None]]:
    connection = await asyncpg.connect(database_url)
    ids = [sample.execution_id for sample in phase.samples]
    try:
        while True:
            rows = await connection.fetch(
                "select id, execution_status, extract(epoch from completed_at) as completed "
                "from workflow_executions where id = any($1)",
                ids,
            )
            done = {row["id"]: (row["execution_status"], row["completed"]) for row in rows}
            if all(status != "running" for status, _ in done.values()) or time.time() > deadline:
                return done
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


def summarize(phase: Phase, done: dict[uuid.UUID, tuple[str, float | None]]) -> dict[str, Any]:
    acks = [(s.acked_at - s.sent_at) * 1000 for s in phase.samples]
    finished = [
        (s, done[s.execution_id][1]) for s in phase.samples if done.get(s.execution_id, ("", None))[1]
    ]
    to_completion = [
        (float(completed) - s.acked_at) * 1000 for s, completed in finished if completed is not None
    ]
    completed = [float(c) for _, c in finished if c is not None]
    first_sent = min(s.sent_at for s in phase.samples)
    statuses: dict[str, int] = {}
    for status, _ in done.values():
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "phase": phase.name,
        "requests": len(phase.samples) + phase.errors + phase.refused,
        "errors": phase.errors,
        "refused_503": phase.refused,
        "generator_cpu_seconds": round(phase.generator_cpu_seconds, 1)
        if phase.generator_cpu_seconds is not None
        else None,
        "statuses": statuses,
        "completed_per_second": round(len(completed) / (max(completed) - first_sent), 1) if completed else 0,
        "ack_ms_p50": round(statistics.median(acks), 1),
        "ack_ms_p99": round(percentile(acks, 0.99), 1),
        "ack_to_completion_ms_p50": round(statistics.median(to_completion), 1) if to_completion else None,
        "ack_to_completion_ms_p99": round(percentile(to_completion, 0.99), 1) if to_completion else None,
    }


async def server_durability(database_url: str) -> dict[str, str]:
    connection = await asyncpg.connect(database_url)
    try:
        return {
            name: await connection.fetchval(f"show {name}")
            for name in ("synchronous_commit", "fsync", "server_version")
        }
    finally:
        await connection.close()


def start_processes(
    database_url: str, port: int, arguments: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """`autofy serve`, or `autofy api` and `--worker-processes` × `autofy worker`."""
    environment = os.environ | {
        "AUTOFY_DATABASE_URL": database_url,
        "AUTOFY_JWT_SECRET": secrets.token_urlsafe(48),
        "AUTOFY_ENCRYPTION_KEYS": generate_encryption_key(),
        "AUTOFY_LOG_LEVEL": "WARNING",
        "AUTOFY_DB_POOL_SIZE": str(arguments.pool),
        "AUTOFY_PORT": str(port),
    }
    autofy = [sys.executable, "-m", "autofy"]
    commands = (
        [["serve"]]
        if not arguments.worker_processes
        else [["api"]] + [["worker"]] * arguments.worker_processes
    )
    # Their banners go to stderr: the benchmark's stdout is its JSON report alone.
    return [
        subprocess.Popen([*autofy, *command], cwd=REPOSITORY, env=environment, stdout=sys.stderr)  # noqa: S603
        for command in commands
    ]


async def wait_healthy(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{base}/health")).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def run(database_url: str, arguments: argparse.Namespace) -> dict[str, Any]:
    token = await seed(database_url)
    port = arguments.port
    base = f"http://127.0.0.1:{port}"
    processes = start_processes(database_url, port, arguments)
    try:
        await wait_healthy(base)
        url = f"{base}/hooks/{token}"
        await saturate(url, 200, 16)  # warm up: imports, pools, prepared statements
        report: dict[str, Any] = {"server": await server_durability(database_url), "phases": []}
        for phase in (
            await saturate(url, arguments.total, arguments.concurrency),
            await steady(url, arguments.rate, arguments.seconds),
        ):
            done = await completions(database_url, phase, time.time() + 120)
            report["phases"].append(summarize(phase, done))
        return report
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--total", type=int, default=3000, help="webhooks in the saturation phase")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight when saturating")
    parser.add_argument("--rate", type=float, default=200, help="webhooks per second in the steady phase")
    parser.add_argument("--seconds", type=float, default=10, help="length of the steady phase")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="separate worker processes (0: in the API process, as `autofy serve`)",
    )
    parser.add_argument("--worker-concurrency", type=int, default=40)
    parser.add_argument("--pool", type=int, default=20, help="AUTOFY_DB_POOL_SIZE of the API")
    parser.add_argument("--port", type=int, default=8765)
    arguments = parser.parse_args()

    with ExitStack() as stack:
        database_url = migrated_database(stack, "autofy_bench")
        report = asyncio.run(run(database_url, arguments))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
