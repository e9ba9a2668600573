"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def database_url_with_name(server_url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# The longest a test waits for something another task or session does before it fails.
WAIT_SECONDS = 10


async def as_the_database_owner(database_url: str, sql: str) -> Any:
    """`sql`'s value as the login role, to whom every session on the server is visible."""
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def until_a_session_waits_on_a_lock(database_url: str) -> None:
    """Until some session of this database waits for a lock another one holds (with a deadline)."""
    waiting = (
        "select count(*) from pg_locks l join pg_stat_activity a using (pid)"
        " where not l.granted and a.datname = current_database()"
    )
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            if await as_the_database_owner(database_url, waiting):
                return
            await asyncio.sleep(0.01)
