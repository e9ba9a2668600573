"""Transactions: a pooled connection the server dropped is replaced (no ping on checkout); settings
are the transaction's own."""

from __future__ import annotations

import uuid

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


async def test_fixed_plans_hold_for_their_own_transaction_only(database_url: str) -> None:
    # One pooled connection: the next transaction runs on the same session as the first.
    database = Database(database_url, pool_size=1)
    plans = text("select current_setting('plan_cache_mode')")
    try:
        async with database.service_session(fixed_plans=True) as session:
            assert await session.scalar(plans) == "force_generic_plan"
        async with database.service_session() as session:
            assert await session.scalar(plans) == "auto"
        async with database.user_session({"role": "authenticated", "sub": str(uuid.uuid4())}) as session:
            assert await session.scalar(plans) == "auto"
    finally:
        await database.dispose()
