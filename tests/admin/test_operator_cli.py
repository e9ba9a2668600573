"""The operator's commands on a real database, run as an operator runs them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from tests.factories import create_execution, create_user, create_workflow
from tests.test_cli import autofy

PASSWORD = "Operator-Chosen-Passw0rd"


async def test_users_create_list_and_set_plan(database_url: str, database: Database) -> None:
    env = {"AUTOFY_DATABASE_URL": database_url}
    created = autofy("users", "create", "ada@example.com", "--password", PASSWORD, "--name", "Ada", env=env)
    assert created.returncode == 0, created.stderr
    assert "created ada@example.com" in created.stdout

    listed = autofy("users", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "ada@example.com" in listed.stdout
    assert "0/1000" in listed.stdout  # credits used / limit of the free plan

    upgraded = autofy("users", "set-plan", "ada@example.com", "pro", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    async with database.service_session() as session:
        plan, limit = (
            await session.execute(
                select(tables.profiles.c.plan_type, tables.profiles.c.credits_limit).where(
                    tables.profiles.c.email == "ada@example.com"
                )
            )
        ).one()
    assert (plan, limit) == ("pro", 20_000)

    weak = autofy("users", "create", "bob@example.com", "--password", "short", env=env)
    assert weak.returncode == 1
    assert weak.stderr.strip().startswith("error: The password is too weak")

    unknown = autofy("users", "set-plan", "nobody@example.com", "pro", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: No user has the email nobody@example.com."


async def test_workflows_and_executions_commands(database_url: str, database: Database) -> None:
    env = {"AUTOFY_DATABASE_URL": database_url}
    owner = await create_user(database, email="owner@example.com")
    workflow = await create_workflow(database, owner, name="Invoices to Notion", status="active")
    started = datetime.now(UTC) - timedelta(minutes=5)
    failed = await create_execution(
        database,
        workflow,
        execution_status="failed",
        started_at=started,
        error_message="Notion answered 401: API token is invalid.",
        step_results=[
            {
                "step_order": 1,
                "service_name": "telegram",
                "action_name": "send_message",
                "status": "failed",
                "attempts": 1,
                "duration_ms": 12,
                "error": {"message": "Notion answered 401: API token is invalid."},
            }
        ],
    )

    listed = autofy("workflows", "list", "--user", "owner@example.com", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Invoices to Notion" in listed.stdout
    assert "owner@example.com" in listed.stdout

    executions = autofy("executions", "list", "--status", "failed", env=env)
    assert executions.returncode == 0, executions.stderr
    assert str(failed) in executions.stdout

    shown = autofy("executions", "show", str(failed), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "API token is invalid" in shown.stdout
    assert "telegram/send_message" in shown.stdout

    missing = autofy("executions", "show", str(uuid.uuid4()), env=env)
    assert missing.returncode == 1
    assert "No execution has the id" in missing.stderr

    run = autofy("workflows", "run", str(workflow.id), "--payload", '{"invoice": 42}', env=env)
    assert run.returncode == 0, run.stderr
    execution_id = uuid.UUID(run.stdout.split()[-1])
    async with database.service_session() as session:
        trigger_data = await session.scalar(
            select(tables.workflow_executions.c.trigger_data).where(
                tables.workflow_executions.c.id == execution_id
            )
        )
    assert trigger_data == {"invoice": 42}

    bad_payload = autofy("workflows", "run", str(workflow.id), "--payload", "[1, 2]", env=env)
    assert bad_payload.returncode == 2
    assert "must be a JSON object" in bad_payload.stderr


def test_status_and_prune(database_url: str) -> None:
    env = {"AUTOFY_DATABASE_URL": database_url}
    status = autofy("status", env=env)
    assert status.returncode == 0, status.stderr
    header, *rows = status.stdout.splitlines()  # piped: tab-separated, values in full
    assert header.split("\t") == ["service", "status", "ms", "error", "checked"]
    database_row = next(row.split("\t") for row in rows if row.startswith("database\t"))
    assert database_row[1:4] == ["unknown", "—", "not checked yet"]

    as_json = autofy("status", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    services = {entry["service_name"]: entry for entry in json.loads(as_json.stdout)}
    assert services["telegram"]["status"] == "unknown"

    pruned = autofy("prune", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 0 executions, 0 audit log entries, 0 health checks" in pruned.stdout


async def test_piped_output_keeps_every_value_whole_and_json_serves_scripts(
    database_url: str, database: Database
) -> None:
    # A narrow terminal width must not matter once the output goes to another program.
    env = {"AUTOFY_DATABASE_URL": database_url, "COLUMNS": "40"}
    email = "a-rather-long-address-for-a-narrow-terminal@example.com"
    owner = await create_user(database, email=email)
    name = "Invoices to Notion, every weekday morning"
    workflow = await create_workflow(database, owner, name=name)
    execution = await create_execution(
        database,
        workflow,
        execution_status="failed",
        error_message="Notion answered 401: API token is invalid.",
    )

    piped = autofy("workflows", "list", env=env)
    assert piped.returncode == 0, piped.stderr
    header, row = piped.stdout.splitlines()
    columns = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert (columns["id"], columns["owner"], columns["name"]) == (str(workflow.id), email, name)

    listed = json.loads(autofy("workflows", "list", "--json", env=env).stdout)
    assert [(item["id"], item["email"], item["status"]) for item in listed] == [
        (str(workflow.id), email, "draft")
    ]
    users = json.loads(autofy("users", "list", "--json", env=env).stdout)
    assert [(user["email"], user["credits_limit"]) for user in users] == [(email, 1000)]
    executions = json.loads(autofy("executions", "list", "--json", env=env).stdout)
    assert [(item["id"], item["execution_status"]) for item in executions] == [(str(execution), "failed")]
    shown = json.loads(autofy("executions", "show", str(execution), "--json", env=env).stdout)
    assert (shown["id"], shown["email"], shown["error_message"]) == (
        str(execution),
        email,
        "Notion answered 401: API token is invalid.",
    )
    status = json.loads(autofy("db", "status", "--json", env=env).stdout)
    assert status["up_to_date"] is True
