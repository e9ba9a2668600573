"""Where a webhook-triggered run's CPU goes, process by process, function by function, statement by
statement.

    python -m bench.webhook_profile                      # 20 connections, a 12 s window
    python -m bench.webhook_profile --connections 10 --window 10
    python -m bench.webhook_profile --rate 2000          # overload: open loop, refusals included

Starts an embedded PostgreSQL with `pg_stat_statements` loaded, runs `bench.webhook_load` against
it (one closed-loop `wrk` phase, or with `--rate` one open-loop phase, `--seconds` long), and
inside that phase, over `--window` seconds:
- the CPU of each process from /proc: the API (`autofy serve`), its worker processes, the load
  generator (wrk or bench.open_loop), and
  PostgreSQL (the postmaster, its background processes and every backend, exited ones included);
- the runs completed in the window, hence CPU milliseconds per run for each;
- with `py-spy` on PATH (`pip install py-spy`), the API's and the worker's busiest functions
  (share of samples in which each appears, `py-spy record --nonblocking`);
- PostgreSQL's statements by time per run (`pg_stat_statements` over the window, top-level
  statements; their time includes lock waits), and the time spent planning them;
- what PostgreSQL's busy backends wait on (a lock, the WAL flush of a commit, or nothing: on CPU),
  by statement: `pg_stat_activity` sampled every 5 ms, as the average number of backends in each
  state.
Prints one JSON document. Needs to see PostgreSQL's processes (run as the same user or as root).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg

from autofy.db.embedded import EmbeddedPostgres
from bench.database import admin

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WAIT_SAMPLE_SECONDS = 0.005
# A frame in this share of the busiest frame's samples is the start-up's, not work.
_EVERYWHERE = 0.98


def processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError):
                continue
            found[int(entry.name)] = (parent, command)
    return found


def descendants(pid: int, table: dict[int, tuple[int, str]]) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, (parent, _) in table.items() if parent in frontier]
        found += frontier
    return found


def cpu_seconds(pid: int, *, exited_children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if exited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children waited for
    return ticks / CLOCK_TICKS


def groups(load_pid: int, postmaster: int) -> dict[str, list[int]]:
    table = processes()
    mine = descendants(load_pid, table)
    api = [pid for pid in mine if "autofy serve" in table[pid][1]]
    return {
        "api": api,
        "worker": [pid for pid in mine if "spawn_main" in table[pid][1]],
        "generator": [pid for pid in mine if is_generator(table[pid][1])],
        "postgres": [postmaster, *descendants(postmaster, table)],
    }


def group_cpu(pids: dict[str, list[int]], postmaster: int) -> dict[str, float]:
    return {
        name: sum(cpu_seconds(pid, exited_children=pid == postmaster) for pid in members)
        for name, members in pids.items()
    }


def busiest(raw: Path, top: int) -> list[tuple[float, str]]:
    """The functions in the most samples of a `py-spy --format raw` file, as (share, function)."""
    samples, appears = 0, collections.Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples += int(count)
        for frame in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:
            appears[frame] += int(count)
    # The main thread's start-up frames are in every one of its samples: leave them out.
    everywhere = _EVERYWHERE * max(appears.values(), default=0)
    return [(round(n / samples, 3), frame) for frame, n in appears.most_common() if n < everywhere][:top]


async def statements(url: str, runs: int) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "select calls, total_exec_time, total_plan_time, rows,"
            " regexp_replace(query, '\\s+', ' ', 'g') as query"
            " from pg_stat_statements where toplevel"
            " order by total_exec_time + total_plan_time desc limit 12"
        )
    finally:
        await connection.close()
    return [
        {
            "us_per_run": round(1000 * row["total_exec_time"] / runs, 1),
            "planning_us_per_run": round(1000 * row["total_plan_time"] / runs, 1),
            "rows_per_call": round(row["rows"] / row["calls"], 1),
            "calls": row["calls"],
            "statement": row["query"][:100],
        }
        for row in rows
    ]


_ACTIVE = """
select coalesce(wait_event_type || ': ' || wait_event, 'on CPU') as waiting,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 60) as statement
from pg_stat_activity
where state = 'active' and backend_type = 'client backend' and pid <> pg_backend_pid()
"""


async def waits(url: str, seconds: float) -> list[dict[str, Any]]:
    """What the busy backends wait on, by statement: the average number of backends in each state
    over `seconds`, sampled every few milliseconds. An autocommit statement shows its own commit
    (WAL flush) under its text."""
    connection = await asyncpg.connect(url)
    samples, seen = 0, collections.Counter[tuple[str, str]]()
    try:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            samples += 1
            seen.update((row["waiting"], row["statement"]) for row in await connection.fetch(_ACTIVE))
            await asyncio.sleep(WAIT_SAMPLE_SECONDS)
    finally:
        await connection.close()
    return [
        {"backends": round(count / samples, 3), "waiting": waiting, "statement": statement}
        for (waiting, statement), count in seen.most_common(15)
    ]


def server_with_statements(stack: ExitStack) -> tuple[str, int]:
    folder = Path(tempfile.mkdtemp(prefix="autofy-profile-", dir="/var/tmp"))
    stack.callback(shutil.rmtree, folder, True)
    embedded = EmbeddedPostgres(folder)
    url = embedded.start()
    stack.callback(embedded.stop)
    asyncio.run(admin(url, "alter system set shared_preload_libraries = 'pg_stat_statements'"))
    asyncio.run(admin(url, "alter system set pg_stat_statements.track_planning = on"))
    embedded.restart()
    asyncio.run(admin(url, "create extension if not exists pg_stat_statements"))
    postmaster = int((embedded.pgdata / "postmaster.pid").read_text().split()[0])
    return url, postmaster


def is_generator(command: str) -> bool:
    return command.startswith("wrk") or "bench.open_loop" in command


def wait_for_phase(load_pid: int, seconds: int) -> None:
    """Until the measured phase's generator runs: the open-loop one, or the wrk that runs for
    `seconds` (the warm-up's runs 3 s)."""
    while True:
        table = processes()
        if any(
            ("bench.open_loop" in table[pid][1] or f"-d{seconds}s" in table[pid][1])
            and is_generator(table[pid][1])
            for pid in descendants(load_pid, table)
        ):
            return
        time.sleep(0.2)


async def profile(url: str, postmaster: int, arguments: argparse.Namespace, folder: Path) -> dict[str, Any]:
    load = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bench.webhook_load"),
        *(
            ("--rate", str(arguments.rate))
            if arguments.rate
            else ("--connections", str(arguments.connections))
        ),
        *("--seconds", str(arguments.seconds), "--port", str(arguments.port)),
        *(("--max-connections", str(arguments.max_connections)) if arguments.rate else ()),
        env=dict(os.environ, AUTOFY_DATABASE_URL=url),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(wait_for_phase, load.pid, arguments.seconds)
        await asyncio.sleep(arguments.settle)
        pids = groups(load.pid, postmaster)
        name = await fetch_value(
            url,
            "select datname from pg_database where datname like 'autofy_load_%' order by oid desc limit 1",
        )
        bench_url = url.replace("/postgres?", f"/{name}?")
        py_spy = shutil.which("py-spy")
        spies = [
            await asyncio.create_subprocess_exec(
                py_spy,
                *("record", "-p", str(pids[part][0]), "-d", str(arguments.window), "-r", "100"),
                *("-f", "raw", "-o", str(folder / f"{part}.raw"), "--nonblocking"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for part in ("api", "worker")
            if py_spy is not None
        ]
        await admin(url, "select pg_stat_statements_reset()")
        began, before = time.time(), group_cpu(pids, postmaster)
        waiting = await waits(url, arguments.window)
        ended, after = time.time(), group_cpu(pids, postmaster)
        completed = await fetch_value(
            bench_url,
            "select count(*) from workflow_executions where completed_at between to_timestamp($1) and to_timestamp($2)",
            began,
            ended,
        )
        by_statement = await statements(url, max(completed, 1))
        for spy in spies:
            await spy.wait()
        output, _ = await load.communicate()
        load_report = json.loads(output)
    finally:
        if load.returncode is None:
            load.terminate()
            await load.wait()
    per_run = {part: round(1000 * (after[part] - before[part]) / max(completed, 1), 3) for part in before}
    return {
        "load": f"{arguments.rate} deliveries/s open loop"
        if arguments.rate
        else f"{arguments.connections} connections",
        "window_seconds": round(ended - began, 1),
        "completed_in_window": completed,
        "completed_per_second": round(completed / (ended - began), 1),
        "cpu_ms_per_run": per_run | {"total": round(sum(per_run.values()), 3)},
        "load_average": os.getloadavg(),
        "busiest_functions": {
            part: busiest(folder / f"{part}.raw", arguments.top)
            for part in ("api", "worker")
            if (folder / f"{part}.raw").exists()
        },
        "statements": by_statement,
        "backends_by_wait": waiting,
        "phase": load_report["phases"][0],
    }


async def fetch_value(url: str, query: str, *arguments: Any) -> Any:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query, *arguments)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rate", type=float, help="an open-loop phase at this rate instead of wrk's")
    parser.add_argument("--max-connections", type=int, default=1000, help="the open-loop sender's cap")
    parser.add_argument("--seconds", type=int, default=30, help="the load phase")
    parser.add_argument("--window", type=int, default=12, help="the measured window inside it")
    parser.add_argument("--settle", type=float, default=5, help="seconds into the phase before the window")
    parser.add_argument("--top", type=int, default=25, help="functions listed per process")
    parser.add_argument("--port", type=int, default=8767)
    arguments = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        url, postmaster = server_with_statements(stack)
        print(json.dumps(asyncio.run(profile(url, postmaster, arguments, Path(folder))), indent=2))


if __name__ == "__main__":
    main()
