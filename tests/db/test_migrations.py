"""Migrations: up, down and up again; idempotent; the seed data; the triggers the schema relies on."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from autofy.db import migrate, tables
from autofy.db.engine import Database
from autofy.db.sql import SQL_DIR
from tests import factories
from tests.db.catalog import Catalog, read_catalog

FOUNDATION = "0001_foundation"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
SCHEMAS = ("public", "auth")
CATALOG_SERVICES = {"gmail", "notion", "telegram", "openai", "anthropic", "gemini", "openrouter"}
ACTIONS = {
    "core": {"http_request", "format_text", "format_number", "format_date", "set_fields", "delay", "filter"},
    "gmail": {
        "new_email",
        "send_email",
        "reply_to_email",
        "search_emails",
        "get_email",
        "add_label",
        "remove_label",
        "mark_read",
        "mark_unread",
        "archive_email",
    },
    "notion": {"create_page", "append_to_page", "query_database", "update_page", "get_page"},
    "telegram": {"new_message", "send_message", "send_photo", "send_document", "get_chat"},
    **{
        llm: {"prompt", "extract", "classify", "summarize"}
        for llm in ("openai", "anthropic", "gemini", "openrouter")
    },
}
TRIGGERS = {("gmail", "new_email"), ("telegram", "new_message")}
# The documented input fields of the actions the templates use (TEAM brief's catalog contract).
INPUT_FIELDS = {
    ("gmail", "new_email"): {"query", "from", "subject", "keywords", "label"},
    ("gmail", "search_emails"): {"query", "max_results"},
    ("notion", "create_page"): {"parent_database_id", "parent_page_id", "title", "properties", "content"},
    ("telegram", "send_message"): {"chat_id", "text", "parse_mode", "disable_notification"},
    ("openai", "prompt"): {"model", "system", "prompt", "temperature", "max_tokens"},
    ("openai", "summarize"): {"model", "text", "max_words", "style"},
    ("openai", "classify"): {"model", "text", "labels", "instructions"},
    ("openai", "extract"): {"model", "text", "json_schema", "instructions"},
}


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def execute(database_url: str, script: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(script)
    finally:
        await connection.close()


def snapshot(database_url: str) -> Catalog:
    return asyncio.run(read_catalog(database_url, SCHEMAS))


def version(database_url: str) -> str | None:
    return asyncio.run(migrate.schema_status(database_url)).current


def leftovers(database_url: str) -> list[str]:
    """Anything of a schema left in public or auth: tables, views, functions, types, the auth
    schema itself. Extension members and alembic's own table are not leftovers."""
    rows = asyncio.run(
        fetch(
            database_url,
            """
            select 'relation ' || c.oid::regclass::text from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('public', 'auth') and c.relkind in ('r', 'v', 'm', 'p', 'S')
              and c.relname <> 'alembic_version'
              and not exists (select from pg_depend d where d.objid = c.oid and d.deptype = 'e')
            union all
            select 'function ' || p.oid::regprocedure::text from pg_proc p
            join pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('public', 'auth')
              and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
            union all
            select 'schema auth' from pg_namespace where nspname = 'auth'
            union all
            select 'extension ' || extname from pg_extension where extname = 'vector'
            """,
        )
    )
    return sorted(row[0] for row in rows)


# --- up, down, up ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [FOUNDATION, "head"])
def test_upgrade_downgrade_upgrade(empty_database_url: str, target: str) -> None:
    migrate.upgrade(empty_database_url, target)
    upgraded = snapshot(empty_database_url)
    assert len(upgraded.tables) >= 14  # the seed's 13 and auth.users

    migrate.downgrade(empty_database_url, "base")
    assert leftovers(empty_database_url) == []
    assert version(empty_database_url) is None

    migrate.upgrade(empty_database_url, target)
    assert snapshot(empty_database_url) == upgraded


def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    before, before_version = snapshot(empty_database_url), version(empty_database_url)
    seed_rows = asyncio.run(fetch(empty_database_url, "select count(*) from system_status"))

    migrate.upgrade(empty_database_url)

    assert version(empty_database_url) == before_version == migrate.head_revision()
    assert snapshot(empty_database_url) == before
    assert asyncio.run(fetch(empty_database_url, "select count(*) from system_status")) == (seed_rows)


def test_a_supabase_project_keeps_its_own_auth_schema(empty_database_url: str) -> None:
    """Inside Supabase, auth.users and auth.uid() exist first, and default privileges grant every
    new table to anon and authenticated: the migration must use the former and defeat the latter,
    and its downgrade must leave Supabase's objects alone."""
    supabase = """
        do $$ begin
          if not exists (select from pg_roles where rolname = 'anon') then
            create role anon nologin noinherit; end if;
          if not exists (select from pg_roles where rolname = 'authenticated') then
            create role authenticated nologin noinherit; end if;
          if not exists (select from pg_roles where rolname = 'service_role') then
            create role service_role nologin noinherit bypassrls; end if;
        end $$;
        create schema auth;
        create table auth.users (
          id uuid primary key default gen_random_uuid(), email text,
          raw_user_meta_data jsonb default '{}'::jsonb);
        insert into auth.users (email, raw_user_meta_data)
          values ('early@example.com', '{"full_name": "Early Adopter"}');
        create function auth.uid() returns uuid language sql stable as
          $f$ select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid $f$;
        create function auth.role() returns text language sql stable as $f$ select 'x'::text $f$;
        create function auth.jwt() returns jsonb language sql stable as $f$ select '{}'::jsonb $f$;
        alter default privileges in schema public grant all on tables to anon, authenticated;
        alter default privileges in schema public grant all on functions to anon, authenticated;
    """
    asyncio.run(execute(empty_database_url, supabase))

    migrate.upgrade(empty_database_url, FOUNDATION)

    profiles = asyncio.run(fetch(empty_database_url, "select email, full_name from profiles"))
    assert [tuple(row) for row in profiles] == [("early@example.com", "Early Adopter")]
    anon_or_user_grants = asyncio.run(
        fetch(
            empty_database_url,
            """
            select c.relname, g.rolname, acl.privilege_type
            from pg_class c join pg_namespace n on n.oid = c.relnamespace,
                 aclexplode(c.relacl) acl join pg_roles g on g.oid = acl.grantee
            where n.nspname = 'public' and g.rolname in ('anon', 'authenticated')
              and (g.rolname = 'anon' or acl.privilege_type not in ('SELECT', 'INSERT', 'UPDATE',
                   'DELETE') or c.relname in ('workflow_executions', 'audit_logs',
                   'integration_templates', 'workflow_templates', 'system_status')
                   and acl.privilege_type <> 'SELECT')
            """,
        )
    )
    assert anon_or_user_grants == []

    migrate.downgrade(empty_database_url, "base")

    kept = asyncio.run(
        fetch(
            empty_database_url,
            "select to_regclass('auth.users')::text as users, "
            "to_regprocedure('auth.uid()')::text as uid, (select count(*) from auth.users) as n",
        )
    )
    assert tuple(kept[0]) == ("auth.users", "auth.uid()", 1)


# --- seed data ---------------------------------------------------------------------------------


async def test_seed_data_is_present_and_rerunning_it_duplicates_nothing(
    database: Database, database_url: str
) -> None:
    async def counts() -> tuple[int, int, int]:
        async with database.service_session() as session:
            return (
                await session.scalar(select(func.count()).select_from(tables.integration_templates)),
                await session.scalar(select(func.count()).select_from(tables.workflow_templates)),
                await session.scalar(select(func.count()).select_from(tables.system_status)),
            )

    assert await counts() == (8, 6, 11)
    await execute(database_url, (SQL_DIR / "seed_0001_foundation.sql").read_text())
    assert await counts() == (8, 6, 11)

    async with database.service_session() as session:
        services = set(
            (await session.execute(select(tables.integration_templates.c.service_name))).scalars().all()
        )
        gmail_scopes = await session.scalar(
            select(tables.integration_templates.c.required_scopes).where(
                tables.integration_templates.c.service_name == "gmail"
            )
        )
        statuses = (await session.execute(select(tables.system_status))).all()
    assert services == CATALOG_SERVICES | {"http"}  # HTTP credentials: a template, no API to monitor
    assert gmail_scopes is not None
    assert {scope.rsplit("/", 1)[1] for scope in gmail_scopes} == {
        "gmail.readonly",
        "gmail.send",
        "gmail.modify",
    }
    assert {row.service_name for row in statuses} == CATALOG_SERVICES | {
        "database",
        "queue",
        "scheduler",
        "workers",
    }
    # Nothing has been checked yet, and the seeded rows say so.
    assert all(
        (row.status, row.error_message, row.metadata) == ("unknown", "not checked yet", {"initial": True})
        for row in statuses
    )


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The parent of a JSON Pointer's target and the last key, checking every step exists."""
    parts = pointer.lstrip("/").split("/")
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert parts[-1] in node, pointer
    return node[parts[-1]]


async def test_workflow_templates_follow_the_workflow_format(database: Database) -> None:
    async with database.service_session() as session:
        templates = (await session.execute(select(tables.workflow_templates))).all()
    names = set()
    for template in templates:
        data = template.template_data
        assert data["name"] == template.name
        assert data["description"] == template.description
        assert data["trigger_type"] in {"manual", "scheduled", "webhook", "email"}
        assert isinstance(data["trigger_config"], dict)
        steps = data["steps"]
        assert [step["step_order"] for step in steps] == list(range(1, len(steps) + 1))
        services = set()
        for index, step in enumerate(steps):
            key = (step["service_name"], step["action_name"])
            assert step["action_name"] in ACTIONS[step["service_name"]], key
            assert (step["step_type"] == "trigger") == (key in TRIGGERS), key
            assert step["step_type"] != "trigger" or index == 0, key
            assert set(step["configuration"]) <= INPUT_FIELDS[key], key
            assert set(step) <= {
                "step_order",
                "step_type",
                "service_name",
                "action_name",
                "configuration",
                "conditions",
                "error_handling",
            }
            services.add(step["service_name"])
        if data["trigger_type"] == "email":
            assert steps[0]["action_name"] == "new_email"
        assert sorted(services - {"core"}) == sorted(template.required_integrations)
        for template_input in data["inputs"]:
            assert {"key", "label", "type", "required", "description", "targets"} <= set(template_input)
            for target in template_input["targets"]:
                resolve_pointer(data, target)
        names.add(template.name)
    assert {"Save new emails to Notion", "Email summaries to Telegram", "Daily email briefing"} <= (names)


# --- the triggers the rest of Autofy relies on --------------------------------------------------


async def test_a_new_account_gets_a_profile_and_default_preferences(database: Database) -> None:
    user = await factories.create_user(database, email="ada@example.com", full_name="Ada")

    async with database.user_session(user.claims) as session:
        profile = (await session.execute(select(tables.profiles))).one()
        preferences = dict(
            (
                await session.execute(
                    select(
                        tables.user_preferences.c.preference_key,
                        tables.user_preferences.c.preference_value,
                    )
                )
            ).all()
        )
    assert (profile.id, profile.email, profile.full_name) == (user.id, "ada@example.com", "Ada")
    assert (profile.plan_type, profile.credits_used, profile.credits_limit) == ("free", 0, 1000)
    assert preferences == {
        "default_ai_provider": "openai",
        "default_ai_model": "gpt-4o-mini",
        "theme": "system",
        "notifications": {"email_on_failure": True, "email_on_success": False},
    }


async def test_account_changes_reach_the_profile(database: Database) -> None:
    user = await factories.create_user(database, email="old@example.com", full_name="Old Name")
    async with database.user_session(user.claims) as session:
        await session.execute(update(tables.profiles).values(full_name="Chosen Name"))

    async with database.service_session() as session:
        # An unrelated metadata change must not overwrite the name the user chose.
        await session.execute(
            update(tables.users)
            .where(tables.users.c.id == user.id)
            .values(email="new@example.com", raw_user_meta_data={"full_name": "Old Name", "x": 1})
        )
    async with database.service_session() as session:
        profile = (await session.execute(select(tables.profiles))).one()
    assert (profile.email, profile.full_name) == ("new@example.com", "Chosen Name")

    async with database.service_session() as session:
        await session.execute(
            update(tables.users)
            .where(tables.users.c.id == user.id)
            .values(raw_user_meta_data={"full_name": "Renamed"})
        )
        profile = (await session.execute(select(tables.profiles))).one()
    assert profile.full_name == "Renamed"


async def test_deleting_an_account_removes_its_data_and_keeps_its_audit_trail(
    database: Database,
) -> None:
    user = await factories.create_user(database)
    workflow = await factories.create_workflow(database, user)
    await factories.create_execution(database, workflow)
    log_id = await factories.create_audit_log(database, user)

    async with database.service_session() as session:
        await session.execute(tables.users.delete().where(tables.users.c.id == user.id))
    async with database.service_session() as session:
        remaining = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (
                tables.profiles,
                tables.workflows,
                tables.workflow_executions,
                tables.user_preferences,
            )
        ]
        log_user = await session.scalar(
            select(tables.audit_logs.c.user_id).where(tables.audit_logs.c.id == log_id)
        )
    assert remaining == [0, 0, 0, 0]
    assert log_user is None


async def test_deleting_a_chat_session_or_a_step_unlinks_what_pointed_at_it(
    database: Database,
) -> None:
    user = await factories.create_user(database)
    chat_session = await factories.create_chat_session(database, user)
    workflow = await factories.create_workflow(database, user, chat_session_id=chat_session)
    execution = await factories.create_execution(
        database, workflow, execution_status="failed", error_step_id=workflow.step_ids[0]
    )

    async with database.user_session(user.claims) as session:
        await session.execute(tables.chat_sessions.delete())
        await session.execute(tables.workflow_steps.delete())
    async with database.service_session() as session:
        link = await session.scalar(
            select(tables.workflows.c.chat_session_id).where(tables.workflows.c.id == workflow.id)
        )
        error_step = await session.scalar(
            select(tables.workflow_executions.c.error_step_id).where(
                tables.workflow_executions.c.id == execution
            )
        )
    assert (link, error_step) == (None, None)


async def test_updated_at_moves_on_every_update(database: Database) -> None:
    user = await factories.create_user(database)
    workflow = await factories.create_workflow(database, user)
    async with database.user_session(user.claims) as session:
        await session.execute(update(tables.workflows).values(name="Renamed"))
    async with database.service_session() as session:
        row = (
            await session.execute(
                select(tables.workflows.c.created_at, tables.workflows.c.updated_at).where(
                    tables.workflows.c.id == workflow.id
                )
            )
        ).one()
    assert row.updated_at > row.created_at


@pytest.mark.parametrize("final_status", ["completed", "failed", "cancelled"])
async def test_a_finished_executions_status_never_changes(database: Database, final_status: str) -> None:
    user = await factories.create_user(database)
    workflow = await factories.create_workflow(database, user)
    execution = await factories.create_execution(database, workflow)
    executions = tables.workflow_executions
    by_id = executions.c.id == execution

    async with database.service_session() as session:
        await session.execute(update(executions).where(by_id).values(execution_status=final_status))
    for later_status in {"running", "completed", "failed", "cancelled"} - {final_status}:
        with pytest.raises(DBAPIError) as refused:
            async with database.service_session() as session:
                await session.execute(update(executions).where(by_id).values(execution_status=later_status))
        assert getattr(refused.value.orig, "sqlstate", None) == OBJECT_NOT_IN_PREREQUISITE_STATE
    async with database.service_session() as session:
        # Everything else about a finished execution may still be recorded.
        await session.execute(update(executions).where(by_id).values(metadata={"note": "kept"}))
        status = await session.scalar(select(executions.c.execution_status).where(by_id))
    assert status == final_status


async def test_roles_switch_as_the_api_expects(database: Database) -> None:
    async with database.service_session() as session:
        roles = (
            await session.execute(
                text(
                    "select rolname, rolbypassrls, rolcanlogin from pg_roles "
                    "where rolname in ('anon', 'authenticated', 'service_role') order by 1"
                )
            )
        ).all()
        current = await session.scalar(text("select current_user"))
    assert [tuple(row) for row in roles] == [
        ("anon", False, False),
        ("authenticated", False, False),
        ("service_role", True, False),
    ]
    assert current == "service_role"
    async with database.anon_session() as session:
        assert await session.scalar(text("select auth.uid()")) is None
