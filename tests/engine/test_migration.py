"""Migration 0003: pgqueuer's schema as the installed pgqueuer renders it, and a clean downgrade."""

from __future__ import annotations

import asyncio

import asyncpg
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

from autofy.db import migrate
from autofy.db.sql import SQL_DIR


def test_the_pinned_queue_schema_is_what_the_installed_pgqueuer_installs() -> None:
    rendered = QueryBuilderEnvironment().build_install_query()
    statements = rendered.split("\n\n", 1)[1]  # after pgqueuer's provenance comment
    assert statements in (SQL_DIR / "0003_engine_up.sql").read_text()


async def _queue_tables(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "select tablename from pg_tables where tablename like 'pgqueuer%' order by 1"
        )
        return [row["tablename"] for row in rows]
    finally:
        await connection.close()


def test_0003_downgrades_and_upgrades_cleanly(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    assert asyncio.run(_queue_tables(empty_database_url)) == [
        "pgqueuer",
        "pgqueuer_log",
        "pgqueuer_schedules",
        "pgqueuer_statistics",
    ]

    migrate.downgrade(empty_database_url, "0002_auth_sessions")
    assert asyncio.run(_queue_tables(empty_database_url)) == []

    migrate.upgrade(empty_database_url)
    assert len(asyncio.run(_queue_tables(empty_database_url))) == 4
