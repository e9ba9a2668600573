"""The worker's own connections: an asyncpg pool whose transactions run as the service role.

The worker's transactions are few and fixed (load, checkpoint, finish), all in raw SQL
(repository.py), so it skips SQLAlchemy's session machinery and its per-checkout ping: on the
hot path each saved round trip is throughput (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from autofy.engine.repository import Connection

# The worker's statements are fixed and their best plans do not depend on the values bound (ids,
# arrays of ids, the queue's entrypoints). By default PostgreSQL plans a prepared statement afresh
# at each call when it guesses the generic plan costlier: for pgqueuer's dequeue that planning cost
# more than running it (~2.5 ms a call, 0.18 ms of CPU per run; docs/performance.md).
FIXED_PLANS = {"plan_cache_mode": "force_generic_plan"}

# Set once per connection, in its startup packet: they are then also what RESET restores when the
# pool hands a connection back, so every statement on the pool runs as the service role.
_AS_SERVICE = {"role": "service_role", "request.jwt.claims": '{"role": "service_role"}'} | FIXED_PLANS


async def _json_codecs(connection: Connection) -> None:
    # As on SQLAlchemy's connections: JSON goes in as text, comes out as Python values.
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=str, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Hand a connection back as it is: one round trip less per transaction than asyncpg's
    default reset (RESET ALL, UNLISTEN, unlock). Nothing here leaves session state behind: settings
    are transaction-local, and no LISTEN or session-level advisory lock is ever taken."""


class ServicePool:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, database_url: str, *, size: int) -> ServicePool:
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=size,
            init=_json_codecs,
            server_settings=_AS_SERVICE,
            reset=_keep_session,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction as `service_role`: executions are written by the service role only."""
        async with self.pool.acquire() as connection, connection.transaction():
            yield connection

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for a single statement, which is a transaction of its own."""
        async with self.pool.acquire() as connection:
            yield connection

    async def close(self) -> None:
        await self.pool.close()
