"""Process heartbeats: each worker and scheduler says it is alive, so the monitor can tell."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from autofy.db.engine import Database

HEARTBEAT_INTERVAL_SECONDS = 10.0
logger = logging.getLogger(__name__)

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
            try:
                await beat(database, process_id, kind)
            except (SQLAlchemyError, OSError):
                # The database being away is the monitor's to report; the process outlives it.
                logger.warning("%s heartbeat failed; retrying in %.0f s", kind, interval, exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue
    finally:
        try:
            async with database.service_session() as session:
                await session.execute(
                    text("delete from autofy_heartbeats where id = :id"), {"id": process_id}
                )
        except (SQLAlchemyError, OSError):
            logger.warning("could not remove the %s heartbeat; it will age out", kind, exc_info=True)
