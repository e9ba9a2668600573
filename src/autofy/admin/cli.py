"""Operator commands: `autofy status|prune|users|workflows|executions`.

Each prints a table on a terminal, tab-separated lines when piped, and JSON with `--json`.
The database layer is imported inside each command, so `autofy --help` does not pay for it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from autofy.terminal import (
    JsonOption,
    as_service,
    console,
    friendly_errors,
    print_json,
    print_rows,
    print_table,
    progress_counter,
    runtime,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

users_app = typer.Typer(help="Accounts, plans and credits.", no_args_is_help=True)
workflows_app = typer.Typer(help="Every tenant's workflows.", no_args_is_help=True)
executions_app = typer.Typer(help="Execution history.", no_args_is_help=True)

Plan = Literal["free", "pro", "enterprise"]
Limit = Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")]
Columns = Mapping[str, Callable[[Mapping[str, Any]], Any]]


def register_operator_commands(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("prune")(prune_history)
    app.add_typer(users_app, name="users")
    app.add_typer(workflows_app, name="workflows")
    app.add_typer(executions_app, name="executions")


def _field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row[name]


def _fraction(*names: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: "/".join(str(row[name]) for name in names)


STATUS_COLUMNS: Columns = {
    "service": _field("service_name"),
    "status": _field("status"),
    "ms": _field("response_time"),
    "error": _field("error_message"),
    "checked": _field("checked_at"),
}


@friendly_errors
def status(as_json: JsonOption = False) -> None:
    """The latest health check of every monitored service ("unknown" until one has run)."""
    from autofy.admin import repository

    async def read(session: AsyncSession) -> list[Mapping[str, Any]]:
        return [dict(row._mapping) for row in await repository.latest_status(session)]

    print_rows("System status", STATUS_COLUMNS, as_service(read), as_json=as_json)


@friendly_errors
def prune_history() -> None:
    """Delete executions, audit logs, health checks and notifications past their retention, in batches."""
    from autofy.db.engine import Database
    from autofy.retention.service import RetentionPolicy, prune

    with runtime() as opened:
        policy = RetentionPolicy.from_settings(opened.settings)
        with progress_counter("pruning") as advance:

            async def run() -> tuple[int, int, int, int]:
                database = Database(opened.database_url, pool_size=1)
                try:
                    result = await prune(database, policy, on_batch=advance)
                finally:
                    await database.dispose()
                return result.executions, result.audit_logs, result.status_checks, result.notifications

            executions, audit_logs, status_checks, notifications = asyncio.run(run())
    console.print(
        f"pruned {executions} executions, {audit_logs} audit log entries, {status_checks} health checks, "
        f"{notifications} notifications"
    )


USER_COLUMNS: Columns = {
    "email": _field("email"),
    "name": _field("full_name"),
    "plan": _field("plan_type"),
    "credits": _fraction("credits_used", "credits_limit"),
    "workflows": _field("workflows"),
    "created": _field("created_at"),
    "id": _field("id"),
}


@users_app.command("list")
@friendly_errors
def users_list(limit: Limit = 100, as_json: JsonOption = False) -> None:
    """Accounts with their plan, credits and number of workflows."""
    from autofy.admin import repository

    async def read(session: AsyncSession) -> list[Mapping[str, Any]]:
        return [dict(row._mapping) for row in await repository.list_users(session, limit=limit)]

    print_rows("Users", USER_COLUMNS, as_service(read), as_json=as_json)


@users_app.command("create")
@friendly_errors
def users_create(
    email: Annotated[str, typer.Argument(help="The new account's email.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Its password.")
    ],
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
) -> None:
    """Create an account, with the same password rules as sign-up."""
    from autofy.admin import service

    with runtime() as opened:
        settings = opened.settings

    async def create(session: AsyncSession) -> uuid.UUID:
        return await service.create_user(
            session, email=email, password=password, full_name=name, settings=settings
        )

    console.print(f"created {email} ({as_service(create)})")


@users_app.command("set-plan")
@friendly_errors
def users_set_plan(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    plan: Annotated[Plan, typer.Argument(help="free, pro or enterprise.")],
    credits_limit: Annotated[
        int | None, typer.Option(min=0, help="Credits per period; the plan's default if not given.")
    ] = None,
) -> None:
    """Change an account's plan and its credits per period (AUTOFY_CREDITS_<PLAN> by default)."""
    from autofy.admin import service

    with runtime() as opened:
        settings = opened.settings

    async def change(session: AsyncSession) -> int:
        return await service.set_plan(
            session, email=email, plan=plan, credits_limit=credits_limit, settings=settings
        )

    console.print(f"{email}: plan {plan}, {as_service(change)} credits per period")


CREDIT_COLUMNS: Columns = {
    "plan": _field("plan_type"),
    "period start": _field("period_start"),
    "resets at": _field("period_end"),
    "allowance": _field("allowance"),
    "granted": _field("granted"),
    "used": _field("used"),
    "reserved": _field("reserved"),
    "remaining": _field("remaining"),
}


def _print_credits(email: str, usage: Mapping[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_json(dict(usage))
        return
    print_table(
        f"Credits of {email}", list(CREDIT_COLUMNS), [[cell(usage) for cell in CREDIT_COLUMNS.values()]]
    )


@users_app.command("credits")
@friendly_errors
def users_credits(
    email: Annotated[str, typer.Argument(help="The account's email.")], as_json: JsonOption = False
) -> None:
    """The account's credits this period: allowance, granted, used, reserved, remaining, reset time."""
    from autofy.admin import service

    async def read(session: AsyncSession) -> Mapping[str, Any]:
        return (await service.credit_usage(session, email=email)).model_dump()

    _print_credits(email, as_service(read), as_json=as_json)


@users_app.command("grant-credits")
@friendly_errors
def users_grant_credits(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    credits: Annotated[int, typer.Argument(min=1, help="Extra credits for the current period.")],
    as_json: JsonOption = False,
) -> None:
    """Grant extra credits for the account's current period (they end with it); audited."""
    from autofy.admin import service

    async def grant(session: AsyncSession) -> Mapping[str, Any]:
        return (await service.grant_credits(session, email=email, credits_to_grant=credits)).model_dump()

    _print_credits(email, as_service(grant), as_json=as_json)


WORKFLOW_COLUMNS: Columns = {
    "name": _field("name"),
    "status": _field("status"),
    "trigger": _field("trigger_type"),
    "owner": _field("email"),
    "ok/failed/total": _fraction("successful_executions", "failed_executions", "total_executions"),
    "last run": _field("last_executed_at"),
    "id": _field("id"),
}


@workflows_app.command("list")
@friendly_errors
def workflows_list(
    user: Annotated[str | None, typer.Option(help="Only this user's (email).")] = None,
    status_filter: Annotated[
        str | None, typer.Option("--status", help="draft, active, paused or archived.")
    ] = None,
    limit: Limit = 100,
    as_json: JsonOption = False,
) -> None:
    """Workflows with their owner, status and run counts."""
    from autofy.admin import repository

    async def read(session: AsyncSession) -> list[Mapping[str, Any]]:
        rows = await repository.list_workflows(session, email=user, status=status_filter, limit=limit)
        return [dict(row._mapping) for row in rows]

    print_rows("Workflows", WORKFLOW_COLUMNS, as_service(read), as_json=as_json)


@workflows_app.command("run")
@friendly_errors
def workflows_run(
    workflow_id: Annotated[uuid.UUID, typer.Argument(help="The workflow to run.")],
    payload: Annotated[str, typer.Option(help="Trigger data, as a JSON object.")] = "{}",
) -> None:
    """Start a manual run; a worker (`autofy serve` or `autofy worker`) carries it out."""
    try:
        trigger_data = json.loads(payload)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not JSON: {error.msg}", param_hint="--payload") from None
    if not isinstance(trigger_data, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--payload")
    from autofy.admin import service

    async def start(session: AsyncSession) -> uuid.UUID:
        return await service.run_workflow(session, workflow_id, trigger_data)

    console.print(f"started execution {as_service(start)}")


EXECUTION_COLUMNS: Columns = {
    "started": _field("started_at"),
    "workflow": _field("workflow"),
    "status": _field("execution_status"),
    "steps": _fraction("completed_steps", "total_steps"),
    "duration": _field("duration"),
    "error": _field("error_message"),
    "id": _field("id"),
}


@executions_app.command("list")
@friendly_errors
def executions_list(
    workflow: Annotated[uuid.UUID | None, typer.Option(help="Only this workflow's.")] = None,
    status_filter: Annotated[
        str | None, typer.Option("--status", help="running, completed, failed or cancelled.")
    ] = None,
    limit: Limit = 50,
    as_json: JsonOption = False,
) -> None:
    """Recent executions, newest first."""
    from autofy.admin import repository

    async def read(session: AsyncSession) -> list[Mapping[str, Any]]:
        rows = await repository.list_executions(
            session, workflow_id=workflow, status=status_filter, limit=limit
        )
        return [dict(row._mapping) for row in rows]

    print_rows("Executions", EXECUTION_COLUMNS, as_service(read), as_json=as_json)


EXECUTION_SUMMARY_COLUMNS: Columns = {
    "workflow": _field("workflow"),
    "owner": _field("email"),
    "status": _field("execution_status"),
    "started": _field("started_at"),
    "duration": _field("duration"),
    "steps ok/failed/total": _fraction("completed_steps", "failed_steps", "total_steps"),
    "credits": _field("credits_used"),
}


def _step_error(step: Mapping[str, Any]) -> Any:
    error = step.get("error")
    return error.get("message") if isinstance(error, dict) else error


STEP_COLUMNS: Columns = {
    "#": lambda step: step.get("step_order"),
    "action": lambda step: f"{step.get('service_name')}/{step.get('action_name')}",
    "status": lambda step: step.get("status"),
    "attempts": lambda step: step.get("attempts"),
    "ms": lambda step: step.get("duration_ms"),
    "error": _step_error,
}


@executions_app.command("show")
@friendly_errors
def executions_show(
    execution_id: Annotated[uuid.UUID, typer.Argument(help="The execution.")], as_json: JsonOption = False
) -> None:
    """One execution with each step's result."""
    from autofy.admin import repository
    from autofy.errors import NotFoundError

    async def read(session: AsyncSession) -> Mapping[str, Any]:
        row = await repository.get_execution(session, execution_id)
        if row is None:
            raise NotFoundError(f"No execution has the id {execution_id}.")
        return dict(row._mapping)

    execution = as_service(read)
    if as_json:
        print_json(dict(execution))
        return
    summary = [[cell(execution) for cell in EXECUTION_SUMMARY_COLUMNS.values()]]
    print_table(f"Execution {execution['id']}", list(EXECUTION_SUMMARY_COLUMNS), summary)
    if execution["error_message"]:
        console.print(f"[red]error:[/] {escape(execution['error_message'])}", highlight=False)
    steps = execution["step_results"] or []
    print_table(
        "Steps", list(STEP_COLUMNS), [[cell(step) for cell in STEP_COLUMNS.values()] for step in steps]
    )
