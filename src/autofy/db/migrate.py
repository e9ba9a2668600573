"""Schema migrations (Alembic) and the checks a server must pass before Autofy uses it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from autofy.security.crypto import CredentialCipher

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MINIMUM_SERVER_VERSION = 150000
CONNECT_TIMEOUT_SECONDS = 10.0


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL cannot be used; the message is one line a user can act on."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def describe_server(database_url: str) -> str:
    """`host:port/database` for messages: never the password."""
    parts = urlsplit(database_url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


async def check_server(database_url: str) -> None:
    """Fail with one clear line unless the server is reachable, recent enough, and has pgvector."""
    where = describe_server(database_url)
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        connection = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {where}: {reason}. "
            "Check AUTOFY_DATABASE_URL, or unset it to use the embedded database."
        ) from error
    try:
        version = int(await connection.fetchval("show server_version_num"))
        if version < MINIMUM_SERVER_VERSION:
            raise DatabaseUnavailable(
                f"PostgreSQL at {where} is version {version // 10000}; Autofy needs 15 or newer."
            )
        has_vector = await connection.fetchval(
            "select exists(select 1 from pg_available_extensions where name = 'vector')"
        )
        if not has_vector:
            raise DatabaseUnavailable(
                f"PostgreSQL at {where} does not have the pgvector extension; install pgvector "
                "on that server (Supabase has it built in), or unset AUTOFY_DATABASE_URL to use "
                "the embedded database, which bundles it."
            )
    finally:
        await connection.close()


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    on_step: Callable[[str], None] | None = None,
    cipher: CredentialCipher | None = None,
) -> None:
    """Bring the schema to `revision`; a no-op when it is already there. `on_step` hears the id of
    each revision as it is applied; `cipher` encrypts what data migrations move into integrations
    (else they read AUTOFY_ENCRYPTION_KEYS)."""
    asyncio.run(check_server(database_url))
    config = _config(database_url)
    config.attributes["credential_cipher"] = cipher
    if on_step is not None:
        config.attributes["on_version_apply"] = lambda *, step, **_: on_step(step.up_revision_id)
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    asyncio.run(check_server(database_url))
    command.downgrade(_config(database_url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config("postgresql://unused/")).get_current_head()
    assert head is not None, "no migrations are packaged"
    return head


async def schema_status(database_url: str) -> SchemaStatus:
    """The revision the database is at, read from alembic_version, and the packaged head."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        has_table = await connection.fetchval("select to_regclass('public.alembic_version')")
        current = await connection.fetchval("select version_num from alembic_version") if has_table else None
    finally:
        await connection.close()
    return SchemaStatus(current=current, head=head_revision())
