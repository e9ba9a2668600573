"""Alembic environment: runs Autofy's migrations on the async engine, one upgrader at a time."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from autofy.db.engine import sqlalchemy_url

# Any constant works; it only has to be the same for every Autofy process.
MIGRATION_LOCK_ID = 7_244_101_001


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        transaction_per_migration=True,
        # `autofy db upgrade` shows progress through this hook (migrate.upgrade's `on_step`).
        on_version_apply=context.config.attributes.get("on_version_apply", ()),
    )
    with context.begin_transaction():
        # Two processes starting together must not both upgrade: the second waits, then sees the
        # version the first wrote and has nothing left to do.
        connection.execute(text("select pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def _run_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_async_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


asyncio.run(_run_online())
