"""Transactions survive a pooled connection the server dropped (no ping on checkout)."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text

from autofy.db.engine import Database


async def test_a_connection_the_server_dropped_is_replaced_not_surfaced(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    try:
        async with database.service_session() as session:
            dropped_pid = await session.scalar(text("select pg_backend_pid()"))
        admin = await asyncpg.connect(database_url)
        try:
            # Waits until the backend has exited, so the pooled connection is dead, not dying.
            assert await admin.fetchval("select pg_terminate_backend($1, 10000)", dropped_pid)
        finally:
            await admin.close()

        async with database.service_session() as session:
            pid = await session.scalar(text("select pg_backend_pid()"))
            role = await session.scalar(text("select current_setting('role')"))
        assert pid != dropped_pid
        assert role == "service_role"
    finally:
        await database.dispose()
