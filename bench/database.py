"""The throwaway database every benchmark runs on: a migrated database of its own, on the server
AUTOFY_DATABASE_URL names or else on an embedded server in a temporary folder, removed on exit.
A benchmark that loads much data once may keep it instead (`keep`): the embedded server's folder
and the database stay for the next run, which reuses them."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
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


async def configure(url: str, settings: Mapping[str, str]) -> bool:
    """ALTER SYSTEM each setting (they persist in the server's folder); True when a restart is due."""
    connection = await asyncpg.connect(url)
    try:
        for name, value in settings.items():
            await connection.execute(f"alter system set {name} = '{value}'")
        await connection.execute("select pg_reload_conf()")
        pending: bool = await connection.fetchval(
            "select bool_or(pending_restart) from pg_settings where name = any($1::text[])", list(settings)
        )
        return pending
    finally:
        await connection.close()


async def create_if_missing(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("select true from pg_database where datname = $1", name):
            await connection.execute(f"create database {name}")
    finally:
        await connection.close()


def migrated_database(
    stack: ExitStack, prefix: str, *, keep: Path | None = None, settings: Mapping[str, str] | None = None
) -> str:
    """The URL of a fresh database at the newest schema; `stack` drops it (and any server) on exit.

    With `keep`, the embedded server lives in that folder and the database, named `prefix`, is
    left there (the server is still stopped on exit): a later run with the same folder finds it as
    it was. `settings` are set on the embedded server (restarting it where they need it)."""
    server_url = os.environ.get("AUTOFY_DATABASE_URL")
    if server_url is None:
        if keep is None:
            folder = Path(tempfile.mkdtemp(prefix="autofy-bench-", dir="/var/tmp"))
            stack.callback(shutil.rmtree, folder, True)
        else:
            folder = keep
        embedded = EmbeddedPostgres(folder)
        server_url = embedded.start()
        stack.callback(embedded.stop)
        if settings and asyncio.run(configure(server_url, settings)):
            embedded.restart()
    elif settings:
        raise SystemExit("server settings apply to the embedded server only: set them on yours")
    if keep is None:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin(server_url, f"create database {name}"))
        stack.callback(lambda: asyncio.run(admin(server_url, f"drop database if exists {name} with (force)")))
    else:
        name = prefix
        asyncio.run(create_if_missing(server_url, name))
    parts = urlsplit(server_url)
    database_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    migrate.upgrade(database_url)
    return database_url
