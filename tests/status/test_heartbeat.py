"""Heartbeats say a process is alive; a database outage must not kill the process that beats."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from autofy.db.engine import Database
from autofy.status.heartbeat import run_heartbeat


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_heartbeat_outlives_an_unreachable_database(caplog: pytest.LogCaptureFixture) -> None:
    database = Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/autofy", pool_size=1)
    stop = asyncio.Event()

    def failures() -> int:
        return sum("heartbeat failed" in record.getMessage() for record in caplog.records)

    with caplog.at_level(logging.WARNING, logger="autofy.status.heartbeat"):
        beating = asyncio.create_task(run_heartbeat(database, "worker", stop, interval=0.05))
        deadline = time.monotonic() + 10
        while failures() < 2:
            assert not beating.done(), "the heartbeat died with the database"
            assert time.monotonic() < deadline, "the heartbeat did not retry"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(beating, timeout=10)
    await database.dispose()
