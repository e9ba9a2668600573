"""Webhook-triggered executions under closed-loop load from `wrk`: accepted, completed, refused.

    python -m bench.webhook_load                         # 10 and 50 connections, 20 s each
    python -m bench.webhook_load --connections 50 --seconds 60
    python -m bench.webhook_load --worker-processes 0    # workers inside the API's process

Starts `autofy serve` on a fresh database (bench/database.py) with the benchmark workflow of
bench/webhook.py, then for each connection count runs Debian's `wrk` (2 threads, a small JSON
POST, `--latency`) and reports, from the database, the executions acknowledged (started) and
completed inside the measured window, what was still waiting 5 s after it, wrk's latency
percentiles and refusals (non-2xx answers: 503 when overloaded), and the CPU seconds each process
group spent in the window (Autofy's processes, wrk, and the whole shared machine: PostgreSQL's
backends may not be visible to this process). Between phases the backlog
drains. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg

from bench.database import migrated_database
from bench.webhook import seed, server_durability, start_processes, wait_healthy

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"customer": "ada@example.com", "n": 42}'
wrk.headers["Content-Type"] = "application/json"
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (those that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found += frontier
    return found


def parse_wrk(output: str) -> dict[str, Any]:
    latency = {
        f"ack_ms_p{percent}": round(float(value) * _UNITS[unit], 2)
        for percent, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    requests = re.search(r"(\d+) requests in", output)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return latency | {
        "requests": int(requests.group(1)) if requests else 0,
        "refused_non_2xx": int(refused.group(1)) if refused else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


async def counts(connection: asyncpg.Connection, began: float, ended: float) -> dict[str, int]:
    row = await connection.fetchrow(
        "select count(*) filter (where started_at between to_timestamp($1) and to_timestamp($2)) as acknowledged,"
        " count(*) filter (where completed_at between to_timestamp($1) and to_timestamp($2)) as completed,"
        " count(*) filter (where execution_status = 'running') as running"
        " from workflow_executions",
        began,
        ended,
    )
    return dict(row)


async def drained(connection: asyncpg.Connection, deadline: float) -> None:
    while time.time() < deadline:
        if not await connection.fetchval(
            "select count(*) from workflow_executions where execution_status = 'running'"
        ):
            return
        await asyncio.sleep(0.5)


async def phase(
    database_url: str, url: str, script: Path, connections: int, seconds: int, groups: dict[str, list[int]]
) -> dict[str, Any]:
    connection = await asyncpg.connect(database_url)
    try:
        await drained(connection, time.time() + 120)
        cpu_before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        machine_before = machine_busy_seconds()
        began = time.time()
        wrk = await asyncio.to_thread(
            subprocess.run,
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        )
        ended = time.time()
        window = ended - began
        cpu = {name: round(cpu_seconds(pids) - cpu_before[name], 1) for name, pids in groups.items()}
        cpu["whole_machine"] = round(machine_busy_seconds() - machine_before, 1)
        at_end = await counts(connection, began, ended)
        await asyncio.sleep(5)
        waiting = await connection.fetchval(
            "select count(*) from workflow_executions where execution_status = 'running'"
        )
        await drained(connection, time.time() + 120)
        return {
            "connections": connections,
            "seconds": round(window, 1),
            "acknowledged_per_second": round(at_end["acknowledged"] / window, 1),
            "completed_per_second": round(at_end["completed"] / window, 1),
            "still_waiting_5s_after": waiting,
            **parse_wrk(wrk.stdout),
            "cpu_seconds": cpu,
        }
    finally:
        await connection.close()


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine spent (both cores): PostgreSQL's backends run as
    another user whose processes this one may not see, and the machine is shared, so this is an
    upper bound on Autofy + PostgreSQL + wrk."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


async def run(database_url: str, arguments: argparse.Namespace, script: Path) -> dict[str, Any]:
    token = await seed(database_url)
    base = f"http://127.0.0.1:{arguments.port}"
    processes = start_processes(database_url, arguments.port, arguments)
    try:
        await wait_healthy(base)
        url = f"{base}/hooks/{token}"
        await asyncio.to_thread(  # warm-up: imports, pools, prepared statements
            subprocess.run,
            ["wrk", "-t2", "-c10", "-d3s", "-s", str(script), url],
            capture_output=True,
            check=True,
        )
        report: dict[str, Any] = {"server": await server_durability(database_url), "phases": []}
        for connections in arguments.connections:
            groups = {"autofy": [pid for process in processes for pid in descendants(process.pid)]}
            children_before = os.times()
            result = await phase(database_url, url, script, connections, arguments.seconds, groups)
            children_after = os.times()
            result["cpu_seconds"]["wrk"] = round(
                children_after.children_user
                + children_after.children_system
                - children_before.children_user
                - children_before.children_system,
                1,
            )
            report["phases"].append(result)
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
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="separate `autofy worker` processes beside `autofy api` (0: `autofy serve`)",
    )
    parser.add_argument("--pool", type=int, default=20, help="AUTOFY_DB_POOL_SIZE")
    parser.add_argument("--port", type=int, default=8766)
    arguments = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text(POST_SCRIPT)
        database_url = migrated_database(stack, "autofy_load")
        print(json.dumps(asyncio.run(run(database_url, arguments, script)), indent=2))


if __name__ == "__main__":
    main()
