"""Schedules: many active schedules due in the same minute, fired by two schedulers at once.

    python -m bench.schedules                          # 10,000 schedules, 2 schedulers
    python -m bench.schedules --schedules 2000 --schedulers 1
    python -m bench.schedules --users 100               # the same schedules over 100 accounts

Creates `--schedules` active workflows, each with an every-minute schedule whose next slot is the
next minute boundary at least 15 s away, then starts `--schedulers` scheduler processes (the
production `run_scheduler`; no workers, so only firing is measured) and watches the executions
appear. Reports the lag from the slot to the moment the run was visible (committed), at p50, p99
and max (sampled every 50 ms), when their start statements ran (`started_at`, after the slot), and
whether each slot fired exactly once (duplicates, missing). Runs that start
after the next minute boundary fire that later slot (missed slots are not run again: docs/triggers.md).
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import signal
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import SecretStr

from autofy.config import Settings
from autofy.runtime import generate_encryption_key
from autofy.triggers.scheduler import run_scheduler
from bench.database import migrated_database
from bench.webhook import create_workflow

POLL_SECONDS = 0.05
LEAD_SECONDS = 15


async def seed(database_url: str, schedules: int, users: int) -> datetime:
    """`schedules` active scheduled workflows, spread evenly over `users` accounts, all due at the
    returned slot."""
    connection = await asyncpg.connect(database_url)
    try:
        owners = [await create_workflow(connection, "Schedule template") for _ in range(users)]
        template = owners[0][1]
        now = datetime.now(UTC)
        slot = (now + timedelta(seconds=LEAD_SECONDS + 60)).replace(second=0, microsecond=0)
        async with connection.transaction():
            await connection.execute(
                "insert into workflows (user_id, name, status, trigger_type, trigger_config)"
                " select ($1::uuid[])[1 + n % cardinality($1::uuid[])], 'Every minute ' || n, 'active',"
                " 'scheduled', '{\"cron\": \"* * * * *\"}' from generate_series(1, $2) n",
                [user_id for user_id, _ in owners],
                schedules,
            )
            await connection.execute(
                "insert into workflow_steps (workflow_id, step_order, step_type, service_name, action_name,"
                " configuration) select w.id, s.step_order, s.step_type, s.service_name, s.action_name,"
                " s.configuration from workflows w cross join workflow_steps s"
                " where w.trigger_type = 'scheduled' and s.workflow_id = $1",
                template,
            )
            await connection.execute(
                "insert into workflow_schedules (workflow_id, user_id, expression, timezone, next_fire_at)"
                " select id, user_id, '* * * * *', 'UTC', $1 from workflows where trigger_type = 'scheduled'",
                slot,
            )
        await connection.execute("analyze")
        return slot
    finally:
        await connection.close()


def schedule(database_url: str) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        jwt_secret=SecretStr(secrets.token_urlsafe(48)),
        encryption_keys=SecretStr(generate_encryption_key()),
        log_level="WARNING",
    )

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run_scheduler(database_url, settings, stop)

    import uvloop

    uvloop.run(serve())


async def watch(database_url: str, slot: datetime, expected: int, deadline: float) -> list[tuple[float, int]]:
    """(seconds after the slot, executions visible) every POLL_SECONDS until all are there."""
    connection = await asyncpg.connect(database_url)
    curve: list[tuple[float, int]] = []
    try:
        while time.time() < deadline:
            visible = int(await connection.fetchval("select count(*) from workflow_executions"))
            lag = time.time() - slot.timestamp()
            if lag >= 0:
                curve.append((lag, visible))
            if visible >= expected:
                return curve
            await asyncio.sleep(POLL_SECONDS)
        return curve
    finally:
        await connection.close()


def lag_at(curve: list[tuple[float, int]], count: int) -> float | None:
    return next((round(lag, 3) for lag, visible in curve if visible >= count), None)


async def exactly_once(database_url: str, slot: datetime) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "select count(*) as runs, count(distinct workflow_id) as workflows,"
            " count(distinct (workflow_id, trigger_data->>'scheduled_for')) as slots,"
            " count(*) filter (where trigger_data->>'scheduled_for' <> $1) as other_slots"
            " from workflow_executions",
            slot.isoformat(),
        )
        started = await connection.fetchval(
            "select array(select extract(epoch from t - $1::timestamptz)::float8 from unnest(("
            "select percentile_disc(array[0.5, 0.99, 1]) within group (order by started_at)"
            " from workflow_executions)) t)",
            slot,
        )
        scheduled = int(
            await connection.fetchval("select count(*) from workflows where trigger_type = 'scheduled'")
        )
        return {
            "runs": row["runs"],
            # The same workflow and slot twice (a later slot that came due meanwhile is no duplicate).
            "duplicates": row["runs"] - row["slots"],
            "missing": scheduled - row["workflows"],
            "runs_for_another_slot": row["other_slots"],
            # When the statements that started the runs ran (`started_at`), after the slot: the
            # rest of the lag is the start itself and its commit.
            "started_seconds_p50_p99_max": [round(seconds, 3) for seconds in started],
        }
    finally:
        await connection.close()


async def measure(database_url: str, arguments: argparse.Namespace) -> dict[str, Any]:
    slot = await seed(database_url, arguments.schedules, arguments.users)
    load_before = os.getloadavg()[0]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=schedule, args=(database_url,)) for _ in range(arguments.schedulers)]
    for process in processes:
        process.start()
    try:
        curve = await watch(database_url, slot, arguments.schedules, slot.timestamp() + arguments.timeout)
    finally:
        for process in processes:
            os.kill(process.pid or 0, signal.SIGTERM)
        for process in processes:
            process.join(timeout=60)
    n = arguments.schedules
    return {
        "schedules": n,
        "schedulers": arguments.schedulers,
        "users": arguments.users,
        "slot": slot.isoformat(),
        "lag_seconds_p50": lag_at(curve, (n + 1) // 2),
        "lag_seconds_p99": lag_at(curve, -(-n * 99 // 100)),
        "lag_seconds_max": lag_at(curve, n),
        "sampled_every_seconds": POLL_SECONDS,
        # The machine is shared: the 1-minute load average when firing began and after it.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **await exactly_once(database_url, slot),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--users", type=int, default=1, help="accounts the schedules are spread over")
    parser.add_argument("--timeout", type=float, default=240, help="seconds after the slot to give up")
    arguments = parser.parse_args()
    with ExitStack() as stack:
        database_url = migrated_database(stack, "autofy_schedules")
        print(json.dumps(asyncio.run(measure(database_url, arguments)), indent=2))


if __name__ == "__main__":
    main()
