"""Process heartbeats: each worker and scheduler says it is alive, so the monitor can tell."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Literal

from sqlalchemy import text

from autofy.db.engine import Database

HEARTBEAT_INTERVAL_SECONDS = 10.0

ProcessKind = Literal["worker", "scheduler"]


async def beat(database: Database, process_id: uuid.UUID, kind: ProcessKind) -> None:
    # heartbeats are infrastructure rows no user owns: service role
    async with database.service_session() as session:
        await session.execute(
            text(
                "insert into autofy_heartbeats (id, kind, hostname, pid) "
                "values (:id, :kind, :hostname, :pid) "
                "on conflict (id) do update set last_seen_at = now()"
            ),
            {"id": process_id, "kind": kind, "hostname": socket.gethostname(), "pid": os.getpid()},
        )


async def run_heartbeat(
    database: Database,
    kind: ProcessKind,
    stop: asyncio.Event,
    interval: float = HEARTBEAT_INTERVAL_SECONDS,
) -> None:
    """Beat until `stop` is set, then remove this process's row: a clean exit is not a failure."""
    process_id = uuid.uuid4()
    try:
        while not stop.is_set():
            await beat(database, process_id, kind)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue
    finally:
        async with database.service_session() as session:
            await session.execute(text("delete from autofy_heartbeats where id = :id"), {"id": process_id})
