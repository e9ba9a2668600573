"""Row-level security and privileges, as a hostile tenant would probe them.

The matrix runs, for every table, each of {anon, owner, another user, service_role} × {select,
insert, update, delete} against one row that belongs to the owner (or, for shared tables, a seed
row), and compares the outcome with the expectation written out below. The tests after it probe
the ways around the matrix: moving rows between tenants, hidden columns, service-only columns,
cross-tenant references, and the functions a user could call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import pytest
from sqlalchemy import Executable, Select, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db import tables
from autofy.db.engine import Database
from tests import factories

Actor = Literal["anon", "owner", "other", "service"]
Operation = Literal["select", "insert", "update", "delete"]
# select: the row is "visible", "hidden" (0 rows) or "denied" (permission error);
# writes: "ok" (1 row), "none" (0 rows touched) or "denied" (permission or policy error).
Outcome = Literal["visible", "hidden", "ok", "none", "denied"]

INSUFFICIENT_PRIVILEGE = "42501"  # both "permission denied" and "violates row-level security"
GMAIL_TEMPLATE_ID = uuid.UUID("10000000-0000-4000-8000-000000000001")
FIRST_WORKFLOW_TEMPLATE_ID = uuid.UUID("20000000-0000-4000-8000-000000000001")
DATABASE_STATUS_ID = uuid.UUID("30000000-0000-4000-8000-000000000001")


@dataclass(frozen=True)
class World:
    """Two tenants; the owner has one row in every table, plus an account without a profile."""

    owner: factories.User
    other: factories.User
    workflow: factories.Workflow
    rows: dict[str, uuid.UUID]
    profileless_user_id: uuid.UUID

    def params(self, table: str) -> dict[str, uuid.UUID]:
        return {
            "row_id": self.rows[table],
            "owner_id": self.owner.id,
            "workflow_id": self.workflow.id,
            "session_id": self.rows["chat_sessions"],
            "profileless_id": self.profileless_user_id,
        }


@pytest.fixture
async def world(database: Database) -> World:
    owner = await factories.create_user(database, full_name="Olive Owner")
    other = await factories.create_user(database, full_name="Mallory Other")
    workflow = await factories.create_workflow(database, owner)
    chat_session = await factories.create_chat_session(database, owner)
    profileless = await factories.create_user(database)
    async with database.service_session() as session:
        await session.execute(text("delete from public.profiles where id = :id"), {"id": profileless.id})
    rows = {
        "profiles": owner.id,
        "user_preferences": await factories.preference_id(database, owner, "theme"),
        "integrations": await factories.create_integration(database, owner),
        "integration_templates": GMAIL_TEMPLATE_ID,
        "workflows": workflow.id,
        "workflow_steps": workflow.step_ids[0],
        "workflow_executions": await factories.create_execution(database, workflow),
        "workflow_templates": FIRST_WORKFLOW_TEMPLATE_ID,
        "chat_sessions": chat_session,
        "chat_messages": await factories.create_chat_message(database, chat_session),
        "api_keys": await factories.create_api_key(database, owner),
        "audit_logs": await factories.create_audit_log(database, owner),
        "system_status": DATABASE_STATUS_ID,
    }
    return World(owner, other, workflow, rows, profileless.id)


# For each table: the insert each actor attempts (always a row *for the owner*, so for the other
# user it is an attempt to write into someone else's space), and the update it attempts on the row.
STATEMENTS: dict[str, tuple[str, str]] = {
    "profiles": (
        "insert into public.profiles (id, email) values (:profileless_id, 'new@example.com')",
        "update public.profiles set full_name = 'Renamed' where id = :row_id",
    ),
    "user_preferences": (
        "insert into public.user_preferences (user_id, preference_key, preference_value) "
        "values (:owner_id, 'language', '\"fr\"')",
        "update public.user_preferences set preference_value = '\"dark\"' where id = :row_id",
    ),
    "integrations": (
        "insert into public.integrations (user_id, service_name, display_name, credentials) "
        "values (:owner_id, 'notion', 'Notion', '{\"ciphertext\": \"x\"}')",
        "update public.integrations set display_name = 'Renamed' where id = :row_id",
    ),
    "integration_templates": (
        "insert into public.integration_templates (service_name, template_name, configuration) "
        "values ('gmail', 'Forged', '{}')",
        "update public.integration_templates set description = 'Forged' where id = :row_id",
    ),
    "workflows": (
        "insert into public.workflows (user_id, name, trigger_type) values (:owner_id, 'New', 'manual')",
        "update public.workflows set name = 'Renamed' where id = :row_id",
    ),
    "workflow_steps": (
        "insert into public.workflow_steps "
        "(workflow_id, step_order, step_type, service_name, action_name, configuration) "
        "values (:workflow_id, 99, 'action', 'telegram', 'send_message', '{}')",
        "update public.workflow_steps set is_enabled = false where id = :row_id",
    ),
    "workflow_executions": (
        "insert into public.workflow_executions (workflow_id, user_id, execution_status) "
        "values (:workflow_id, :owner_id, 'completed')",
        "update public.workflow_executions set execution_status = 'completed' where id = :row_id",
    ),
    "workflow_templates": (
        "insert into public.workflow_templates "
        "(name, category, required_integrations, template_data) "
        "values ('Forged', 'test', '{}', '{}')",
        "update public.workflow_templates set description = 'Forged' where id = :row_id",
    ),
    "chat_sessions": (
        "insert into public.chat_sessions (user_id, session_name) values (:owner_id, 'New')",
        "update public.chat_sessions set session_name = 'Renamed' where id = :row_id",
    ),
    "chat_messages": (
        "insert into public.chat_messages (session_id, role, content) "
        "values (:session_id, 'user', 'Injected')",
        "update public.chat_messages set content = 'Edited' where id = :row_id",
    ),
    "api_keys": (
        "insert into public.api_keys (user_id, key_name, key_prefix, key_hash) "
        "values (:owner_id, 'New key', 'af_12345', 'hash')",
        "update public.api_keys set key_name = 'Renamed' where id = :row_id",
    ),
    "audit_logs": (
        "insert into public.audit_logs (user_id, action, resource_type) "
        "values (:owner_id, 'forged', 'workflow')",
        "update public.audit_logs set action = 'tampered' where id = :row_id",
    ),
    "system_status": (
        "insert into public.system_status (service_name, status) values ('database', 'down')",
        "update public.system_status set status = 'down' where id = :row_id",
    ),
}

DENIED = ("denied", "denied", "denied", "denied")
SERVICE = ("visible", "ok", "ok", "ok")
OWN_CRUD = ("visible", "ok", "ok", "ok")
OTHERS_CRUD = ("hidden", "denied", "none", "none")
READ_ONLY = ("visible", "denied", "denied", "denied")
READ_OWN_ONLY = ("visible", "denied", "denied", "denied")
OTHERS_READ_ONLY = ("hidden", "denied", "denied", "denied")

# (select, insert, update, delete) per actor, per table.
EXPECTED: dict[str, dict[Actor, tuple[Outcome, Outcome, Outcome, Outcome]]] = {
    "profiles": {
        "anon": DENIED,
        "owner": ("visible", "denied", "ok", "denied"),
        "other": ("hidden", "denied", "none", "denied"),
        "service": SERVICE,
    },
    "user_preferences": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "integrations": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "integration_templates": {
        "anon": DENIED,
        "owner": READ_ONLY,
        "other": READ_ONLY,
        "service": SERVICE,
    },
    "workflows": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "workflow_steps": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "workflow_executions": {
        "anon": DENIED,
        "owner": READ_OWN_ONLY,
        "other": OTHERS_READ_ONLY,
        "service": SERVICE,
    },
    "workflow_templates": {
        "anon": DENIED,
        "owner": READ_ONLY,
        "other": READ_ONLY,
        "service": SERVICE,
    },
    "chat_sessions": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "chat_messages": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "api_keys": {"anon": DENIED, "owner": OWN_CRUD, "other": OTHERS_CRUD, "service": SERVICE},
    "audit_logs": {
        "anon": DENIED,
        "owner": READ_OWN_ONLY,
        "other": OTHERS_READ_ONLY,
        "service": SERVICE,
    },
    "system_status": {"anon": DENIED, "owner": READ_ONLY, "other": READ_ONLY, "service": SERVICE},
}

MATRIX = [
    pytest.param(table, actor, outcomes, id=f"{table}-{actor}")
    for table, by_actor in EXPECTED.items()
    for actor, outcomes in by_actor.items()
]


@asynccontextmanager
async def acting_as(database: Database, actor: Actor, world: World) -> AsyncIterator[AsyncSession]:
    if actor == "anon":
        async with database.anon_session() as session:
            yield session
    elif actor == "service":
        async with database.service_session() as session:
            yield session
    else:
        user = world.owner if actor == "owner" else world.other
        async with database.user_session(user.claims) as session:
            yield session


def sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


async def attempt(
    database: Database,
    actor: Actor,
    world: World,
    statement: str | Executable,
    params: dict[str, uuid.UUID],
) -> int | Literal["denied"]:
    """Run one statement as `actor`: the rows it counted or touched, or "denied"."""
    executable = text(statement) if isinstance(statement, str) else statement
    counts = isinstance(executable, Select) or (isinstance(statement, str) and statement.startswith("select"))
    try:
        async with acting_as(database, actor, world) as session:
            result = await session.execute(executable, params)
            return int(result.scalar_one()) if counts else result.rowcount
    except DBAPIError as error:
        if sqlstate(error) == INSUFFICIENT_PRIVILEGE:
            return "denied"
        raise


def count_row(table: str, row_id: uuid.UUID) -> Select[int]:
    public_table = tables.metadata.tables[table]
    return select(func.count()).select_from(public_table).where(public_table.c.id == row_id)


def test_the_matrix_covers_every_table() -> None:
    assert set(EXPECTED) == set(STATEMENTS) == {table.name for table in tables.PUBLIC_TABLES}
    assert all(set(by_actor) == {"anon", "owner", "other", "service"} for by_actor in EXPECTED.values())


@pytest.mark.parametrize(("table", "actor", "expected"), MATRIX)
async def test_rls_matrix(
    database: Database,
    world: World,
    table: str,
    actor: Actor,
    expected: tuple[Outcome, Outcome, Outcome, Outcome],
) -> None:
    """Select, insert, update, delete, in that order, each in its own transaction."""
    insert_sql, update_sql = STATEMENTS[table]
    row_id = world.rows[table]
    public_table = tables.metadata.tables[table]
    params = world.params(table)
    statements: dict[Operation, str | Executable] = {
        "select": count_row(table, row_id),
        "insert": insert_sql,
        "update": update_sql,
        "delete": delete(public_table).where(public_table.c.id == row_id),
    }
    observed: list[Outcome] = []
    for operation, statement in statements.items():
        used = {name: value for name, value in params.items() if f":{name}" in str(statement)}
        if not isinstance(statement, str):
            used = {}
        outcome = await attempt(database, actor, world, statement, used)
        if outcome == "denied":
            observed.append("denied")
        elif operation == "select":
            observed.append("visible" if outcome else "hidden")
        else:
            observed.append("ok" if outcome == 1 else "none")

    assert tuple(observed) == expected
    if actor != "service" and "ok" not in observed[1:]:
        # Nothing refused may have reached the row.
        async with database.service_session() as session:
            assert await session.scalar(count_row(table, row_id)) == 1


# --- moving rows between tenants ---------------------------------------------------------------

MOVES = {
    "user_preferences": "update public.user_preferences set user_id = :other_id where id = :row_id",
    "integrations": "update public.integrations set user_id = :other_id where id = :row_id",
    "workflows": "update public.workflows set user_id = :other_id where id = :row_id",
    "chat_sessions": "update public.chat_sessions set user_id = :other_id where id = :row_id",
    "api_keys": "update public.api_keys set user_id = :other_id where id = :row_id",
    "workflow_steps": ("update public.workflow_steps set workflow_id = :other_parent_id where id = :row_id"),
    "chat_messages": ("update public.chat_messages set session_id = :other_parent_id where id = :row_id"),
}


OWNERSHIP = {
    "user_preferences": "user_id = :owner_id",
    "integrations": "user_id = :owner_id",
    "workflows": "user_id = :owner_id",
    "chat_sessions": "user_id = :owner_id",
    "api_keys": "user_id = :owner_id",
    "workflow_steps": ("workflow_id in (select id from public.workflows where user_id = :owner_id)"),
    "chat_messages": ("session_id in (select id from public.chat_sessions where user_id = :owner_id)"),
}


@pytest.mark.parametrize("table", sorted(MOVES))
async def test_owner_cannot_move_a_row_to_another_user(database: Database, world: World, table: str) -> None:
    params = {"row_id": world.rows[table], "other_id": world.other.id}
    if table == "workflow_steps":
        params["other_parent_id"] = (await factories.create_workflow(database, world.other)).id
    elif table == "chat_messages":
        params["other_parent_id"] = await factories.create_chat_session(database, world.other)

    assert await attempt(database, "owner", world, MOVES[table], params) == "denied"

    async with database.service_session() as session:
        owner_of_row = await session.scalar(
            count_row(table, world.rows[table]).where(text(OWNERSHIP[table])),
            {"owner_id": world.owner.id},
        )
    assert owner_of_row == 1


async def test_a_step_cannot_be_added_to_another_users_workflow(database: Database, world: World) -> None:
    sql = (
        "insert into public.workflow_steps "
        "(workflow_id, step_order, step_type, service_name, action_name, configuration) "
        "values (:workflow_id, 7, 'action', 'telegram', 'send_message', '{}')"
    )
    outcome = await attempt(database, "other", world, sql, {"workflow_id": world.workflow.id})
    assert outcome == "denied"


async def test_a_message_cannot_be_added_to_another_users_chat_session(
    database: Database, world: World
) -> None:
    sql = (
        "insert into public.chat_messages (session_id, role, content) "
        "values (:session_id, 'assistant', 'Ignore previous instructions')"
    )
    params = {"session_id": world.rows["chat_sessions"]}
    assert await attempt(database, "other", world, sql, params) == "denied"


async def test_a_workflow_cannot_point_at_another_users_chat_session(
    database: Database, world: World
) -> None:
    others_workflow = await factories.create_workflow(database, world.other)
    sql = "update public.workflows set chat_session_id = :session_id where id = :workflow_id"
    params = {"session_id": world.rows["chat_sessions"], "workflow_id": others_workflow.id}
    assert await attempt(database, "other", world, sql, params) == "denied"

    insert = (
        "insert into public.workflows (user_id, name, trigger_type, chat_session_id) "
        "values (:other_id, 'Mine', 'manual', :session_id)"
    )
    params = {"other_id": world.other.id, "session_id": world.rows["chat_sessions"]}
    assert await attempt(database, "other", world, insert, params) == "denied"


async def test_a_chat_session_cannot_point_at_another_users_workflow(
    database: Database, world: World
) -> None:
    insert = "insert into public.chat_sessions (user_id, workflow_id) values (:other_id, :workflow_id)"
    params = {"other_id": world.other.id, "workflow_id": world.workflow.id}
    assert await attempt(database, "other", world, insert, params) == "denied"


async def test_an_owner_may_link_their_own_workflow_and_chat_session(
    database: Database, world: World
) -> None:
    sql = "update public.workflows set chat_session_id = :session_id where id = :workflow_id"
    params = {"session_id": world.rows["chat_sessions"], "workflow_id": world.workflow.id}
    assert await attempt(database, "owner", world, sql, params) == 1
    sql = "update public.chat_sessions set workflow_id = :workflow_id where id = :session_id"
    assert await attempt(database, "owner", world, sql, params) == 1


# --- hidden columns and service-only columns ---------------------------------------------------

HIDDEN_FROM_USERS = [
    pytest.param("select credentials from public.integrations", id="read-credentials"),
    pytest.param(
        "select id from public.integrations where credentials ? 'ciphertext'",
        id="filter-on-credentials",
    ),
    pytest.param("select * from public.integrations", id="select-star-integrations"),
    pytest.param("update public.integrations set display_name = 'x' returning *", id="returning-credentials"),
    pytest.param("select embedding from public.chat_messages", id="read-embedding"),
    pytest.param(
        "select id from public.chat_messages order by embedding <=> embedding",
        id="order-by-embedding",
    ),
    pytest.param(
        "update public.chat_messages set embedding = array_fill(0.5, array[1536])::vector",
        id="write-embedding",
    ),
    pytest.param(
        "insert into public.chat_messages (session_id, role, content, embedding) "
        "select id, 'user', 'x', array_fill(0.5, array[1536])::vector from public.chat_sessions",
        id="insert-embedding",
    ),
    pytest.param("select key_hash from public.api_keys", id="read-key-hash"),
    pytest.param("update public.profiles set credits_limit = 1000000", id="raise-credits-limit"),
    pytest.param("update public.profiles set plan_type = 'enterprise'", id="upgrade-plan"),
    pytest.param("update public.profiles set credits_used = 0", id="reset-credits-used"),
    pytest.param("update public.profiles set email = 'x@example.com'", id="change-profile-email"),
    pytest.param("update public.profiles set id = gen_random_uuid()", id="change-profile-id"),
    pytest.param("update public.workflows set successful_executions = 1000", id="forge-workflow-counters"),
    pytest.param(
        "insert into public.workflows (user_id, name, trigger_type, total_executions) "
        "select id, 'x', 'manual', 5 from public.profiles",
        id="insert-workflow-counters",
    ),
    pytest.param("update public.api_keys set usage_count = 0", id="reset-key-usage"),
    pytest.param("update public.api_keys set expires_at = now() + interval '99 years'", id="extend-key"),
    pytest.param("update public.api_keys set key_hash = 'x'", id="replace-key-hash"),
    pytest.param("update public.workflow_templates set use_count = 0", id="reset-template-uses"),
    pytest.param("select * from auth.users", id="read-auth-users"),
]


@pytest.mark.parametrize("sql", HIDDEN_FROM_USERS)
async def test_owner_is_refused(database: Database, world: World, sql: str) -> None:
    await factories.create_chat_message(database, world.rows["chat_sessions"])
    assert await attempt(database, "owner", world, sql, {}) == "denied"


async def test_owner_reads_every_other_integration_column_and_writes_credentials(
    database: Database, world: World
) -> None:
    async with database.user_session(world.owner.claims) as session:
        row = (await session.execute(select(*tables.INTEGRATION_USER_COLUMNS))).one()
        await session.execute(
            update(tables.integrations)
            .where(tables.integrations.c.id == row.id)
            .values(credentials={"ciphertext": "rotated"})
        )
        messages = (await session.execute(select(*tables.CHAT_MESSAGE_USER_COLUMNS))).all()
        keys = (await session.execute(select(*tables.API_KEY_USER_COLUMNS))).all()
    assert row.user_id == world.owner.id
    assert len(messages) == 1
    assert len(keys) == 1
    async with database.service_session() as session:
        stored = await session.scalar(
            select(tables.integrations.c.credentials).where(tables.integrations.c.id == row.id)
        )
    assert stored == {"ciphertext": "rotated"}


async def test_users_see_only_active_integration_templates(database: Database, world: World) -> None:
    async with database.service_session() as session:
        await session.execute(
            text("update public.integration_templates set is_active = false where id = :id"),
            {"id": GMAIL_TEMPLATE_ID},
        )
    sql = "select count(*) from public.integration_templates where id = :row_id"
    assert await attempt(database, "owner", world, sql, {"row_id": GMAIL_TEMPLATE_ID}) == 0
    assert await attempt(database, "service", world, sql, {"row_id": GMAIL_TEMPLATE_ID}) == 1


# --- the catalog, from an attacker's point of view ---------------------------------------------


async def test_every_public_table_has_row_level_security(database: Database) -> None:
    async with database.service_session() as session:
        without_rls = (
            (
                await session.execute(
                    text(
                        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                        "where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity "
                        "and c.relname <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert without_rls == []


async def test_anon_may_read_only_the_public_status_pages_columns(database: Database) -> None:
    """Signed out, the public status page (0012) reads a health check's service, state and time as
    `anon`; nothing else in any table is open to `anon`."""
    async with database.service_session() as session:
        granted = (
            await session.execute(
                text(
                    "select c.oid::regclass::text, a.attname from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
                    "and has_column_privilege('anon', c.oid, a.attnum, 'select, insert, update, references') "
                    "where n.nspname in ('public', 'auth') and c.relkind in ('r', 'v', 'm') "
                    "and (has_table_privilege('anon', c.oid, "
                    "'select, insert, update, delete, truncate, references, trigger') "
                    "or a.attname is not null) "
                    "order by 1, 2"
                )
            )
        ).all()
    assert [tuple(row) for row in granted] == [
        ("system_status", "checked_at"),
        ("system_status", "service_name"),
        ("system_status", "status"),
    ]


async def test_every_security_definer_function_is_closed_or_checks_its_caller(
    database: Database,
) -> None:
    """A SECURITY DEFINER function runs with its owner's rights: it must pin its search_path, be
    closed to anon, and be callable by users only if it limits itself to the caller's rows."""
    async with database.service_session() as session:
        definers = (
            await session.execute(
                text(
                    "select p.oid::regprocedure::text as name, "
                    "coalesce(array_to_string(p.proconfig, ','), '') as config, "
                    "has_function_privilege('anon', p.oid, 'execute') as anon_may, "
                    "has_function_privilege('authenticated', p.oid, 'execute') as user_may, "
                    "pg_get_functiondef(p.oid) as definition "
                    "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                    "where p.prosecdef and n.nspname in ('public', 'auth')"
                )
            )
        ).all()
    by_name = {row.name: row for row in definers}
    # The account triggers act for whoever inserts an account: no user may call them.
    for trigger_function in ("handle_new_user()", "handle_user_updated()"):
        assert not by_name[trigger_function].user_may
    for row in definers:
        # Other settings may sit beside it (match_chat_messages sets its vector index's scan).
        assert 'search_path=""' in row.config.split(","), row.name
        assert not row.anon_may, row.name
        if row.user_may:
            assert "auth.uid()" in row.definition, f"{row.name} does not check its caller"


async def test_auth_helpers_read_the_callers_claims(database: Database, world: World) -> None:
    async with database.user_session(world.owner.claims) as session:
        row = (
            await session.execute(
                text("select auth.uid() as uid, auth.role() as role, auth.jwt() ->> 'email' as e")
            )
        ).one()
    assert (row.uid, row.role, row.e) == (world.owner.id, "authenticated", world.owner.email)
