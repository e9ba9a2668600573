"""What the notification trigger costs the statement that finishes runs (migration 0012).

    python -m bench.notification_triggers --executions 5000

Inserts `--executions` running executions, then finishes them in batches of 100 per statement
(as a batched finishing query would), as `completed` and as `failed`, with the trigger enabled and
disabled, and reports microseconds per finished execution for each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from contextlib import ExitStack

import asyncpg

from bench.database import migrated_database

BATCH = 100


async def _user_and_workflow(connection: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    user_id = uuid.uuid4()
    await connection.execute(
        "insert into auth.users (id, email) values ($1, $2)", user_id, f"{user_id.hex[:8]}@example.com"
    )
    workflow_id = await connection.fetchval(
        "insert into workflows (user_id, name, trigger_type) values ($1, 'Bench', 'manual') returning id",
        user_id,
    )
    return user_id, workflow_id


async def _finish_all(
    connection: asyncpg.Connection, user_id: uuid.UUID, workflow_id: uuid.UUID, status: str, count: int
) -> float:
    ids = await connection.fetch(
        "insert into workflow_executions (workflow_id, user_id, execution_status) "
        "select $1, $2, 'running' from generate_series(1, $3) returning id",
        workflow_id,
        user_id,
        count,
    )
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = [row["id"] for row in ids[first : first + BATCH]]
        await connection.execute(
            "update workflow_executions set execution_status = $2, completed_at = now(), "
            "error_message = case when $2 = 'failed' then 'Step 1 failed' end where id = any($1::uuid[])",
            batch,
            status,
        )
    return (time.perf_counter() - started) / count * 1e6


async def measure(database_url: str, executions: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        user_id, workflow_id = await _user_and_workflow(connection)
        for enabled in (True, False):
            action = "enable" if enabled else "disable"
            await connection.execute(
                f"alter table workflow_executions {action} trigger notify_execution_failed"
            )
            for status in ("completed", "failed"):
                micros = await _finish_all(connection, user_id, workflow_id, status, executions)
                trigger = "trigger on " if enabled else "trigger off"
                print(f"{trigger}  {status:9}  {micros:7.1f} µs per finished execution")
        notified = await connection.fetchval("select count(*) from notifications")
        print(f"notifications recorded: {notified} (one per failed run with the trigger on)")
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=5000)
    arguments = parser.parse_args()
    with ExitStack() as stack:
        asyncio.run(measure(migrated_database(stack, "bench_notify"), arguments.executions))


if __name__ == "__main__":
    main()
