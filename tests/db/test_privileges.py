"""An external database whose role lacks a privilege: one line says what, and the SQL that grants it.

Each test creates a database owned by the server's superuser and a login role that owns nothing,
grants it some of what the migrations need, and runs `autofy db upgrade` as that role.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from autofy.db import migrate
from autofy.db.migrate import RoleFacts, missing_privileges
from tests.support import database_url_with_name
from tests.test_cli import autofy

ROLES = "anon, authenticated, service_role"


async def _as_superuser(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@dataclass(frozen=True)
class LimitedRole:
    name: str
    database: str
    url: str  # connects as the limited role
    admin_url: str  # the same database, as the superuser

    def grant(self, *statements: str) -> None:
        asyncio.run(_as_superuser(self.admin_url, *statements))


@pytest.fixture
def limited_role(postgres_server_url: str, template_database_url: str) -> Iterator[LimitedRole]:
    # template_database_url: the migrated template has created the three roles on this server.
    suffix = uuid.uuid4().hex[:8]
    name, database = f"autofy_limited_{suffix}", f"autofy_privileges_{suffix}"
    asyncio.run(
        _as_superuser(postgres_server_url, f"create role {name} login", f"create database {database}")
    )
    admin_url = database_url_with_name(postgres_server_url, database)
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]  # empty for a Unix socket (`?host=/path`)
    url = urlunsplit((parts.scheme, f"{name}@{host}", parts.path, parts.query, parts.fragment))
    yield LimitedRole(name, database, url, admin_url)
    asyncio.run(
        _as_superuser(
            postgres_server_url,
            f"drop database if exists {database} with (force)",
            f"drop role if exists {name}",
        )
    )


def _upgrade_as(role: LimitedRole) -> tuple[int, list[str]]:
    result = autofy("db", "upgrade", env={"AUTOFY_DATABASE_URL": role.url})
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stderr.strip().splitlines()


def test_a_role_lacking_everything_is_told_the_sql_that_grants_it(limited_role: LimitedRole) -> None:
    code, lines = _upgrade_as(limited_role)

    assert code == 1
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"error: the role {limited_role.name} cannot migrate ")
    for lacking in (
        "create the vector extension",
        "create the auth schema",
        "create tables in schema public",
        f"act as the roles {ROLES}",
    ):
        assert lacking in line

    # The administrator runs exactly what the line says; then the migrations go through.
    statements = line.split(f"in database {limited_role.database}: ", 1)[1]
    limited_role.grant(statements)
    code, lines = _upgrade_as(limited_role)
    assert code == 0, lines


GRANTS = {
    "create the vector extension": "create extension vector",
    "create the auth schema": "grant create on database {database} to {role}",
    "create tables in schema public": "grant create on schema public to {role}",
    f"act as the roles {ROLES}": f"grant {ROLES} to {{role}}",
}


@pytest.mark.parametrize("lacking", list(GRANTS))
def test_a_role_lacking_one_privilege_is_told_that_one(limited_role: LimitedRole, lacking: str) -> None:
    limited_role.grant(
        *(
            grant.format(database=limited_role.database, role=limited_role.name)
            for what, grant in GRANTS.items()
            if what != lacking
        )
    )

    code, lines = _upgrade_as(limited_role)

    assert code == 1
    assert len(lines) == 1, lines
    assert f"it may not {lacking}. An administrator can grant it" in lines[0]


def test_a_migrated_database_is_not_checked_again(limited_role: LimitedRole) -> None:
    # An operator may migrate as an administrator and run Autofy as a narrower role.
    migrate.upgrade(limited_role.admin_url)
    limited_role.grant(f"grant {ROLES} to {limited_role.name}")

    code, lines = _upgrade_as(limited_role)

    assert code == 1  # it cannot even read which revision the schema is at, and is told so
    assert lines[0].endswith(f'GRANT SELECT ON public.alembic_version TO "{limited_role.name}";')
    limited_role.grant(lines[0].split("can grant it: ", 1)[1])
    code, lines = _upgrade_as(limited_role)
    assert code == 0, lines


ALL_ALLOWED = RoleFacts(
    role="autofy",
    database="autofy",
    superuser=False,
    create_role=False,
    bypass_rls=False,
    vector_installed=True,
    vector_creatable=False,
    auth_schema_exists=True,
    create_on_database=False,
    create_on_public=True,
    missing_roles=(),
    ungranted_roles=(),
)


def test_missing_roles_are_created_by_whoever_may() -> None:
    # Roles are shared by the whole server, so the test server cannot lack them: the rule alone.
    missing = replace(ALL_ALLOWED, missing_roles=("anon", "service_role"))
    assert missing_privileges(missing) == [
        (
            "create the roles anon, service_role",
            "CREATE ROLE anon NOLOGIN NOINHERIT; CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; "
            'GRANT anon, service_role TO "autofy";',
        )
    ]
    # CREATEROLE makes anon; only a role that bypasses RLS itself may make one that does.
    assert missing_privileges(replace(missing, create_role=True))[0][0] == "create the roles service_role"
    assert missing_privileges(replace(missing, create_role=True, bypass_rls=True)) == []
    assert missing_privileges(replace(missing, superuser=True)) == []
    assert missing_privileges(ALL_ALLOWED) == []
