"""The test harness: one real PostgreSQL per test run, one fresh migrated database per test.

By default the embedded server starts in a temporary folder; set AUTOFY_TEST_DATABASE_URL to a
PostgreSQL (with pgvector) whose user may create databases to run against that server instead.
Each test gets its own database copied from a migrated template, so tests may commit freely.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from autofy.db import migrate
from autofy.db.embedded import EmbeddedPostgres
from autofy.db.engine import Database
from tests.support import database_url_with_name

pytest_plugins = ["tests.api_fixtures", "tests.fakes.service_fixtures", "tests.fakes.llm_fixtures"]

TEMPLATE_DATABASE = "autofy_test_template"


async def _admin(server_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server for the whole run: the embedded one unless one is configured."""
    configured = os.environ.get("AUTOFY_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="autofy-test-"))
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        # A throwaway server: durability buys the tests nothing and costs them a lot of time.
        asyncio.run(
            _admin(
                url,
                "alter system set fsync = off",
                "alter system set synchronous_commit = off",
                "alter system set full_page_writes = off",
                "select pg_reload_conf()",
            )
        )
        yield url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database_url(postgres_server_url: str) -> str:
    """A database migrated to head once per run, copied for every test."""
    asyncio.run(
        _admin(
            postgres_server_url,
            f"drop database if exists {TEMPLATE_DATABASE} with (force)",
            f"create database {TEMPLATE_DATABASE}",
        )
    )
    url = database_url_with_name(postgres_server_url, TEMPLATE_DATABASE)
    migrate.upgrade(url)
    return url


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database with nothing in it, for migration tests."""
    name = f"autofy_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f"create database {name}"))
    yield database_url_with_name(postgres_server_url, name)
    asyncio.run(_admin(postgres_server_url, f"drop database if exists {name} with (force)"))


@pytest.fixture
def database_url(postgres_server_url: str, template_database_url: str) -> Iterator[str]:
    """A fresh database at the newest schema, with the seed data, for this test alone."""
    name = f"autofy_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f"create database {name} template {TEMPLATE_DATABASE}"))
    yield database_url_with_name(postgres_server_url, name)
    asyncio.run(_admin(postgres_server_url, f"drop database if exists {name} with (force)"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """Autofy's data layer on this test's database."""
    db = Database(database_url, pool_size=4)
    try:
        yield db
    finally:
        await db.dispose()
