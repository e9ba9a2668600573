"""The throwaway database every benchmark runs on: a migrated database of its own, on the server
AUTOFY_DATABASE_URL names or else on an embedded server in a temporary folder, removed on exit."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from autofy.db import migrate
from autofy.db.embedded import EmbeddedPostgres


async def admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def migrated_database(stack: ExitStack, prefix: str) -> str:
    """The URL of a fresh database at the newest schema; `stack` drops it (and any server) on exit."""
    server_url = os.environ.get("AUTOFY_DATABASE_URL")
    if server_url is None:
        folder = Path(tempfile.mkdtemp(prefix="autofy-bench-", dir="/var/tmp"))
        stack.callback(shutil.rmtree, folder, True)
        embedded = EmbeddedPostgres(folder)
        server_url = embedded.start()
        stack.callback(embedded.stop)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(server_url, f"create database {name}"))
    stack.callback(lambda: asyncio.run(admin(server_url, f"drop database if exists {name} with (force)")))
    parts = urlsplit(server_url)
    database_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    migrate.upgrade(database_url)
    return database_url
