"""Schema migrations (Alembic) and the checks a server must pass before Autofy uses it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg

if TYPE_CHECKING:
    from alembic.config import Config

from autofy.db.embedded import SERVER_SETTINGS
from autofy.security.crypto import CredentialCipher

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MINIMUM_SERVER_VERSION = 150000
CONNECT_TIMEOUT_SECONDS = 10.0
# Past this, the run queue's dead rows pile up between autovacuum's visits under sustained load and
# slow every run (the embedded server runs with SERVER_SETTINGS' value).
LONGEST_ADVISED_NAPTIME_SECONDS = 10


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
    # Alembic is imported when a command needs it: it costs a third of a second of start-up.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


def describe_server(database_url: str) -> str:
    """`host:port/database` for messages: never the password."""
    parts = urlsplit(database_url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


async def check_server(database_url: str) -> None:
    """Fail with one clear line unless the server is reachable, recent enough, and has pgvector;
    warn when its autovacuum leaves the run queue's dead rows too long."""
    where = describe_server(database_url)
    try:
        connection = await asyncpg.connect(_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
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
        autovacuum = await connection.fetchval("show autovacuum") == "on"
        naptime_seconds = int(
            await connection.fetchval("select setting from pg_settings where name = 'autovacuum_naptime'")
        )
    finally:
        await connection.close()
    advised = f"autovacuum_naptime = '{SERVER_SETTINGS['autovacuum_naptime']}'"
    if not autovacuum:
        logger.warning(
            "autovacuum is off on PostgreSQL at %s: the run queue's dead rows are never cleared "
            "and every run gets slower. Turn it on, with %s (docs/operations.md).",
            where,
            advised,
        )
    elif naptime_seconds > LONGEST_ADVISED_NAPTIME_SECONDS:
        logger.warning(
            "PostgreSQL at %s vacuums a database at most every %d s (autovacuum_naptime): under "
            "sustained load the run queue's dead rows pile up in between and slow every run. "
            "Set %s on that server (docs/operations.md).",
            where,
            naptime_seconds,
            advised,
        )


# --- what the connecting role must be allowed to do before migrating ------------------------------

# As 0001_foundation creates them (and Supabase has them).
API_ROLE_ATTRIBUTES = {
    "anon": "NOLOGIN NOINHERIT",
    "authenticated": "NOLOGIN NOINHERIT",
    "service_role": "NOLOGIN NOINHERIT BYPASSRLS",
}
API_ROLES = tuple(API_ROLE_ATTRIBUTES)

_ROLE_FACTS = """
select current_user as role, current_database() as database,
       r.rolsuper as superuser, r.rolcreaterole as create_role, r.rolbypassrls as bypass_rls,
       exists(select from pg_catalog.pg_extension where extname = 'vector') as vector_installed,
       coalesce((select bool_or(trusted) from pg_catalog.pg_available_extension_versions
                 where name = 'vector'), false)
       -- Supabase's supautils lets its `postgres` role create the extensions it lists.
       or 'vector' = any(string_to_array(
            replace(coalesce(current_setting('supautils.privileged_extensions', true), ''), ' ', ''),
            ',')) as vector_creatable,
       pg_catalog.to_regnamespace('auth') is not null as auth_schema_exists,
       pg_catalog.has_database_privilege(current_database(), 'CREATE') as create_on_database,
       case when pg_catalog.to_regnamespace('public') is null then false
            else pg_catalog.has_schema_privilege('public', 'CREATE') end as create_on_public
from pg_catalog.pg_roles r
where r.rolname = current_user
"""

_API_ROLE_FACTS = """
select wanted.name,
       r.oid is not null as exists,
       case when r.oid is null then false
            else pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') end as member,
       case when r.oid is null then false
            else pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') end as admin
from unnest($1::text[]) with ordinality as wanted(name, position)
left join pg_catalog.pg_roles r on r.rolname = wanted.name
order by wanted.position
"""


@dataclass(frozen=True)
class RoleFacts:
    """What the connecting role may do, as the server reports it (`read_role_facts`)."""

    role: str
    database: str
    superuser: bool
    create_role: bool
    bypass_rls: bool
    vector_installed: bool
    vector_creatable: bool
    auth_schema_exists: bool
    create_on_database: bool
    create_on_public: bool
    missing_roles: tuple[str, ...]  # of API_ROLES
    ungranted_roles: tuple[str, ...]  # existing API roles it is not a member of and cannot join


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def missing_privileges(facts: RoleFacts) -> list[tuple[str, str]]:
    """What the migrations need and the role lacks: (what, the SQL an administrator runs)."""
    role, missing = _ident(facts.role), []
    if not facts.vector_installed and not (facts.superuser or facts.vector_creatable):
        missing.append(("create the vector extension", "CREATE EXTENSION vector;"))
    if not facts.auth_schema_exists and not facts.create_on_database:
        missing.append(
            ("create the auth schema", f"GRANT CREATE ON DATABASE {_ident(facts.database)} TO {role};")
        )
    if not facts.create_on_public:
        missing.append(("create tables in schema public", f"GRANT CREATE ON SCHEMA public TO {role};"))
    uncreatable = [
        name
        for name in facts.missing_roles
        if not facts.superuser
        and not (facts.create_role and (facts.bypass_rls or "BYPASSRLS" not in API_ROLE_ATTRIBUTES[name]))
    ]
    if uncreatable:
        statements = " ".join(f"CREATE ROLE {name} {API_ROLE_ATTRIBUTES[name]};" for name in uncreatable)
        missing.append(
            (
                f"create the roles {', '.join(uncreatable)}",
                f"{statements} GRANT {', '.join(uncreatable)} TO {role};",
            )
        )
    if facts.ungranted_roles:
        names = ", ".join(facts.ungranted_roles)
        missing.append((f"act as the roles {names}", f"GRANT {names} TO {role};"))
    return missing


async def read_role_facts(connection: asyncpg.Connection) -> RoleFacts:
    row = await connection.fetchrow(_ROLE_FACTS)
    roles = await connection.fetch(_API_ROLE_FACTS, list(API_ROLES))
    assert row is not None, "the connecting role is always in pg_roles"
    return RoleFacts(
        **dict(row),
        missing_roles=tuple(r["name"] for r in roles if not r["exists"]),
        ungranted_roles=tuple(r["name"] for r in roles if r["exists"] and not (r["member"] or r["admin"])),
    )


async def check_privileges(database_url: str) -> None:
    """Fail with one line naming what the role lacks, and the SQL that grants it, unless the role
    may apply the migrations that are still pending."""
    where = describe_server(database_url)
    connection = await asyncpg.connect(_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        facts = await read_role_facts(connection)
    finally:
        await connection.close()
    missing = missing_privileges(facts)
    if missing:
        lacks = "; ".join(what for what, _ in missing)
        statements = " ".join(sql for _, sql in missing)
        raise DatabaseUnavailable(
            f"the role {facts.role} cannot migrate {where}: it may not {lacks}. "
            f"An administrator can grant it, in database {facts.database}: {statements}"
        )


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    on_step: Callable[[str], None] | None = None,
    cipher: CredentialCipher | None = None,
) -> None:
    """Bring the schema to `revision`; a no-op when it is already there. `on_step` hears the id of
    each revision as it is applied; `cipher` encrypts what data migrations move into integrations
    (else they read AUTOFY_ENCRYPTION_KEYS). Before migrating, the role's privileges are checked."""
    asyncio.run(check_server(database_url))
    up_to_date = asyncio.run(schema_status(database_url)).up_to_date
    if up_to_date and revision == "head":
        return  # how every process usually starts: Alembic's environment would cost a third of a second
    if not up_to_date:
        asyncio.run(check_privileges(database_url))
    from alembic import command

    config = _config(database_url)
    config.attributes["credential_cipher"] = cipher
    if on_step is not None:
        config.attributes["on_version_apply"] = lambda *, step, **_: on_step(step.up_revision_id)
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    asyncio.run(check_server(database_url))
    command.downgrade(_config(database_url), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config("postgresql://unused/")).get_current_head()
    assert head is not None, "no migrations are packaged"
    return head


async def schema_status(database_url: str) -> SchemaStatus:
    """The revision the database is at, read from alembic_version, and the packaged head."""
    connection = await asyncpg.connect(_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        has_table = await connection.fetchval("select to_regclass('public.alembic_version')")
        current = await connection.fetchval("select version_num from alembic_version") if has_table else None
    except asyncpg.InsufficientPrivilegeError:
        role = await connection.fetchval("select current_user")
        raise DatabaseUnavailable(
            f"the role {role} may not read the schema revision of {describe_server(database_url)}. "
            f"An administrator can grant it: GRANT SELECT ON public.alembic_version TO {_ident(role)};"
        ) from None
    finally:
        await connection.close()
    return SchemaStatus(current=current, head=head_revision())
