"""Webhook-triggered executions under load: accepted, completed, refused.

    python -m bench.webhook_load                         # wrk, 10 and 50 connections, 20 s each
    python -m bench.webhook_load --connections 50 --seconds 60
    python -m bench.webhook_load --rate 300 --seconds 60 # open loop: 300 deliveries/s for 60 s
    python -m bench.webhook_load --overload --seconds 60 --honour-retry-after
    python -m bench.webhook_load --worker-processes 0    # workers inside the API's process

Starts `autofy serve` on a fresh database (bench/database.py) with the benchmark workflow of
bench/webhook.py, then for each connection count runs Debian's `wrk` (2 threads, a small JSON
POST, `--latency`) and reports, from the database, the executions acknowledged (started) and
completed inside the measured window, what was still waiting 5 s after it, wrk's latency
percentiles and refusals (non-2xx answers: 503 when overloaded), and the CPU seconds each process
group spent in the window (Autofy's processes, wrk, and the whole shared machine: PostgreSQL's
backends may not be visible to this process). Between phases the backlog
drains. Prints one JSON document.

`--rate R` adds an open-loop phase (bench/open_loop.py, in a process of its own): R deliveries a
second at fixed times for `--seconds`, latency from each request's intended send time, the
generator's own CPU, ack → completion from the database for every 202, whether every accepted
delivery has exactly one execution, the backlog (runs waiting) sampled every second, and the peak
resident memory of Autofy's processes. `--overload` first measures capacity (completed/s under wrk
at `--capacity-connections`, 20 by default: where the closed loop peaks; `--capacity-seconds`),
then offers twice that open loop for `--seconds`, and says completed/s as a fraction of capacity. `--honour-retry-after`: the open-loop sender sends every
refused delivery again after its Retry-After (with an Idempotency-Key), as docs/triggers.md asks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.database import migrated_database
from bench.open_loop import summary
from bench.webhook import seed, server_durability, start_processes, wait_healthy

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"customer": "ada@example.com", "n": 42}'
wrk.headers["Content-Type"] = "application/json"
"""
WAITING = "select count(*) from workflow_executions where execution_status = 'running'"
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
        if not await connection.fetchval(WAITING):
            return
        await asyncio.sleep(0.5)


async def phase(
    database_url: str, url: str, script: Path, connections: int, seconds: int, groups: dict[str, list[int]]
) -> dict[str, Any]:
    connection = await asyncpg.connect(database_url)
    try:
        await drained(connection, time.time() + 120)
        before = await machine_before()
        cpu_before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        machine_before_seconds = machine_busy_seconds()
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
        cpu["whole_machine"] = round(machine_busy_seconds() - machine_before_seconds, 1)
        at_end = await counts(connection, began, ended)
        await asyncio.sleep(5)
        waiting = await connection.fetchval(WAITING)
        await drained(connection, time.time() + 120)
        return {
            "connections": connections,
            "seconds": round(window, 1),
            "acknowledged_per_second": round(at_end["acknowledged"] / window, 1),
            "completed_per_second": round(at_end["completed"] / window, 1),
            "still_waiting_5s_after": waiting,
            **parse_wrk(wrk.stdout),
            "cpu_seconds": cpu,
            "machine_before": before,
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        }
    finally:
        await connection.close()


async def wrk_phase(
    database_url: str, url: str, script: Path, connections: int, seconds: int, roots: list[int]
) -> dict[str, Any]:
    groups = {"autofy": [pid for root in roots for pid in descendants(root)]}
    children_before = os.times()
    result = await phase(database_url, url, script, connections, seconds, groups)
    children_after = os.times()
    result["cpu_seconds"]["wrk"] = round(
        children_after.children_user
        + children_after.children_system
        - children_before.children_user
        - children_before.children_system,
        1,
    )
    return result


async def machine_before() -> dict[str, Any]:
    """How busy the shared machine was just before a phase: the load averages lag by a minute
    (and carry the previous phase), so also the cores busy over the last 3 s."""
    busy = machine_busy_seconds()
    await asyncio.sleep(3)
    return {
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "busy_cores_last_3s": round((machine_busy_seconds() - busy) / 3, 2),
    }


def resident_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total_kib += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total_kib / 1024


@dataclass
class Watch:
    """Samples, every second while an open-loop phase runs, the runs still waiting to finish and the
    resident memory of Autofy's processes (all of them: the worker processes are children)."""

    roots: list[int]
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # unix time, waiting, MiB

    async def run(self, connection: asyncpg.Connection) -> None:
        while True:
            waiting = await connection.fetchval(WAITING)
            memory = resident_mib([pid for root in self.roots for pid in descendants(root)])
            self.samples.append((time.time(), waiting, memory))
            await asyncio.sleep(1)

    def waiting_at(self, moment: float) -> int | None:
        return next((waiting for at, waiting, _ in self.samples if at >= moment), None)


async def open_loop_phase(
    database_url: str, url: str, rate: float, arguments: argparse.Namespace, roots: list[int]
) -> dict[str, Any]:
    """`rate` deliveries/s for `--seconds` from bench/open_loop.py, then what became of them."""
    connection = await asyncpg.connect(database_url)
    watched = await asyncpg.connect(database_url)
    try:
        await drained(connection, time.time() + 300)
        autofy = [pid for root in roots for pid in descendants(root)]
        before = await machine_before()
        cpu_before, machine_before_seconds = cpu_seconds(autofy), machine_busy_seconds()
        memory_before = resident_mib(autofy)
        watch = Watch(roots)
        watching = asyncio.create_task(watch.run(watched))
        phase_began = time.time()
        with tempfile.NamedTemporaryFile(suffix=".tsv") as accepted_file:
            command = [
                *(sys.executable, "-m", "bench.open_loop", url, "--rate", f"{rate:g}"),
                *("--seconds", str(arguments.seconds), "--max-connections", str(arguments.max_connections)),
                *("--accepted", accepted_file.name),
            ]
            if arguments.honour_retry_after:
                command += ["--honour-retry-after", "--give-up-after", str(arguments.give_up_after)]
            generator = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
            output, _ = await generator.communicate()
            if generator.returncode:
                raise RuntimeError(f"bench.open_loop failed ({generator.returncode})")
            load = json.loads(output)
            accepted = [line.split("\t") for line in accepted_file.read().decode().splitlines()]
        began = load.pop("started_at")
        window_end = began + arguments.seconds
        await asyncio.sleep(max(0.0, window_end + 6 - time.time()))  # for the sample 5 s after
        at_end = await counts(connection, began, window_end)
        await drained(connection, time.time() + 300)
        watching.cancel()
        cpu = {
            "autofy": round(
                cpu_seconds([pid for root in roots for pid in descendants(root)]) - cpu_before, 1
            ),
            "whole_machine": round(machine_busy_seconds() - machine_before_seconds, 1),
            "generator": load["generator_cpu_seconds"],
        }
        executions = await accounting(connection, phase_began, accepted, load["idempotency_key_prefix"])
        completed = at_end["completed"] / arguments.seconds
        acknowledged = at_end["acknowledged"] / arguments.seconds
        return {
            "mode": "open loop",
            "offered_per_second": round(rate, 1),
            "seconds": arguments.seconds,
            "acknowledged_per_second": round(acknowledged, 1),
            "completed_per_second": round(completed, 1),
            "acknowledged_over_completed": round(acknowledged / completed, 3) if completed else None,
            "waiting_at_end": watch.waiting_at(window_end),
            "waiting_5s_after": watch.waiting_at(window_end + 5),
            "waiting_peak": max((waiting for _, waiting, _ in watch.samples), default=None),
            "load": load,
            **executions,
            "autofy_rss_mib": {
                "before": round(memory_before, 1),
                "peak": round(max((memory for _, _, memory in watch.samples), default=0.0), 1),
                "after": round(watch.samples[-1][2], 1) if watch.samples else None,
            },
            "cpu_seconds": cpu,
            "autofy_cpu_ms_per_execution": round(cpu["autofy"] / executions["recorded"] * 1000, 3)
            if executions["recorded"]
            else None,
            "machine_before": before,
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        }
    finally:
        await watched.close()
        await connection.close()


async def accounting(
    connection: asyncpg.Connection, began: float, accepted: list[list[str]], key_prefix: str | None
) -> dict[str, Any]:
    """What became of the 202s (id, unix time of the answer, key): each one's run and how long it
    took to finish; every execution recorded in the phase is one a 202 announced, and, with keys,
    each delivery has exactly one."""
    acked_at = {uuid.UUID(execution_id): float(at) for execution_id, at, _ in accepted}
    rows = await connection.fetch(
        "select id, execution_status, extract(epoch from completed_at)::float8 as completed"
        " from workflow_executions where id = any($1::uuid[])",
        list(acked_at),
    )
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["execution_status"]] = statuses.get(row["execution_status"], 0) + 1
    to_completion = [(row["completed"] - acked_at[row["id"]]) * 1000 for row in rows if row["completed"]]
    recorded = await connection.fetchval(
        "select count(*) from workflow_executions where started_at >= to_timestamp($1)", began
    )
    result: dict[str, Any] = {
        "accepted_202": len(accepted),
        "accepted_distinct_executions": len(acked_at),
        "accepted_without_execution": len(acked_at) - len(rows),
        "recorded": recorded,
        "recorded_not_accepted": recorded - len(rows),
        "execution_statuses": statuses,
        "ack_to_completion_ms": summary(to_completion),
    }
    if key_prefix is not None:
        keys, with_keys = await connection.fetchrow(  # type: ignore[misc]  # an aggregate: one row
            "select count(distinct dedupe_key), count(*) from workflow_executions where dedupe_key like $1",
            f"webhook:{key_prefix}-%",
        )
        result["delivery_keys_with_an_execution"] = keys
        result["executions_beyond_one_per_key"] = with_keys - keys
    return result


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
        roots = [process.pid for process in processes]
        for connections in arguments.connections:
            report["phases"].append(
                await wrk_phase(database_url, url, script, connections, arguments.seconds, roots)
            )
        if arguments.rate:
            report["phases"].append(
                await open_loop_phase(database_url, url, arguments.rate, arguments, roots)
            )
        if arguments.overload:
            capacity = await wrk_phase(
                database_url, url, script, arguments.capacity_connections, arguments.capacity_seconds, roots
            )
            report["capacity"] = capacity
            overload = await open_loop_phase(
                database_url, url, 2 * capacity["completed_per_second"], arguments, roots
            )
            overload["completed_over_capacity"] = round(
                overload["completed_per_second"] / capacity["completed_per_second"], 3
            )
            report["phases"].append(overload)
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
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        help="wrk phases, one per connection count (default 10 50 when there is no open-loop phase)",
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of each phase")
    parser.add_argument("--rate", type=float, help="an open-loop phase at this many deliveries/s")
    parser.add_argument(
        "--overload",
        action="store_true",
        help="capacity from wrk (--capacity-connections), then twice that offered open loop",
    )
    parser.add_argument("--capacity-seconds", type=int, default=20)
    # Deliveries arriving together start in one transaction (triggers.intake), so the closed loop
    # completes most at ~20 connections (docs/performance.md §6); 10 underestimates capacity.
    parser.add_argument("--capacity-connections", type=int, default=20)
    parser.add_argument(
        "--honour-retry-after",
        action="store_true",
        help="the open-loop sender sends refused deliveries again after Retry-After",
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=300,
        help="with --honour-retry-after: seconds after which the sender gives a delivery up",
    )
    parser.add_argument("--max-connections", type=int, default=1000, help="the open-loop sender's cap")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="separate `autofy worker` processes beside `autofy api` (0: `autofy serve`)",
    )
    parser.add_argument("--pool", type=int, default=20, help="AUTOFY_DB_POOL_SIZE")
    parser.add_argument("--port", type=int, default=8766)
    arguments = parser.parse_args()
    if arguments.connections is None:
        arguments.connections = [] if arguments.rate or arguments.overload else [10, 50]
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text(POST_SCRIPT)
        database_url = migrated_database(stack, "autofy_load")
        print(json.dumps(asyncio.run(run(database_url, arguments, script)), indent=2))


if __name__ == "__main__":
    main()
