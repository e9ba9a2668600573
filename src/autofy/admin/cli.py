"""Operator commands: `autofy status|prune|users|workflows|executions`, with readable tables."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.admin import repository, service
from autofy.db.engine import Database
from autofy.errors import NotFoundError
from autofy.retention.service import RetentionPolicy, prune
from autofy.terminal import as_service, console, friendly_errors, progress_counter, runtime

users_app = typer.Typer(help="Accounts, plans and credits.", no_args_is_help=True)
workflows_app = typer.Typer(help="Every tenant's workflows.", no_args_is_help=True)
executions_app = typer.Typer(help="Execution history.", no_args_is_help=True)

Plan = Literal["free", "pro", "enterprise"]
Limit = Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")]
STATUS_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "down": "red",
    "completed": "green",
    "running": "cyan",
    "failed": "red",
    "cancelled": "yellow",
}


def register_operator_commands(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("prune")(prune_history)
    app.add_typer(users_app, name="users")
    app.add_typer(workflows_app, name="workflows")
    app.add_typer(executions_app, name="executions")


def _styled(value: str) -> str:
    style = STATUS_STYLE.get(value)
    return f"[{style}]{value}[/]" if style else value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.2f} s"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    return str(value)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_styled(_cell(value)) for value in row))
    return table


@friendly_errors
def status() -> None:
    """The latest health check of every monitored service."""

    async def read(session: AsyncSession) -> list[list[Any]]:
        rows = await repository.latest_status(session)
        return [[r.service_name, r.status, r.response_time, r.error_message, r.checked_at] for r in rows]

    rows = as_service(read)
    console.print(_table("System status", ["service", "status", "ms", "error", "checked"], rows))


@friendly_errors
def prune_history() -> None:
    """Delete executions, audit logs and health checks past their retention, in batches."""
    with runtime() as opened:
        policy = RetentionPolicy.from_settings(opened.settings)
        with progress_counter("pruning") as advance:

            async def run() -> tuple[int, int, int]:
                database = Database(opened.database_url, pool_size=1)
                try:
                    result = await prune(database, policy, on_batch=advance)
                finally:
                    await database.dispose()
                return result.executions, result.audit_logs, result.status_checks

            executions, audit_logs, status_checks = asyncio.run(run())
    console.print(
        f"pruned {executions} executions, {audit_logs} audit log entries, {status_checks} health checks"
    )


@users_app.command("list")
@friendly_errors
def users_list(limit: Limit = 100) -> None:
    """Accounts with their plan, credits and number of workflows."""

    async def read(session: AsyncSession) -> list[list[Any]]:
        rows = await repository.list_users(session, limit=limit)
        return [
            [
                r.email,
                r.full_name,
                r.plan_type,
                f"{r.credits_used}/{r.credits_limit}",
                r.workflows,
                r.created_at,
                r.id,
            ]
            for r in rows
        ]

    console.print(
        _table("Users", ["email", "name", "plan", "credits", "workflows", "created", "id"], as_service(read))
    )


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
    """Change an account's plan (and its credits limit)."""

    async def change(session: AsyncSession) -> int:
        return await service.set_plan(session, email=email, plan=plan, credits_limit=credits_limit)

    console.print(f"{email}: plan {plan}, credits limit {as_service(change)}")


@workflows_app.command("list")
@friendly_errors
def workflows_list(
    user: Annotated[str | None, typer.Option(help="Only this user's (email).")] = None,
    status_filter: Annotated[
        str | None, typer.Option("--status", help="draft, active, paused or archived.")
    ] = None,
    limit: Limit = 100,
) -> None:
    """Workflows with their owner, status and run counts."""

    async def read(session: AsyncSession) -> list[list[Any]]:
        rows = await repository.list_workflows(session, email=user, status=status_filter, limit=limit)
        return [
            [
                r.name,
                r.status,
                r.trigger_type,
                r.email,
                f"{r.successful_executions}/{r.failed_executions}/{r.total_executions}",
                r.last_executed_at,
                r.id,
            ]
            for r in rows
        ]

    columns = ["name", "status", "trigger", "owner", "ok/failed/total", "last run", "id"]
    console.print(_table("Workflows", columns, as_service(read)))


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

    async def start(session: AsyncSession) -> uuid.UUID:
        return await service.run_workflow(session, workflow_id, trigger_data)

    console.print(f"started execution {as_service(start)}")


@executions_app.command("list")
@friendly_errors
def executions_list(
    workflow: Annotated[uuid.UUID | None, typer.Option(help="Only this workflow's.")] = None,
    status_filter: Annotated[
        str | None, typer.Option("--status", help="running, completed, failed or cancelled.")
    ] = None,
    limit: Limit = 50,
) -> None:
    """Recent executions, newest first."""

    async def read(session: AsyncSession) -> list[list[Any]]:
        rows = await repository.list_executions(
            session, workflow_id=workflow, status=status_filter, limit=limit
        )
        return [
            [
                r.started_at,
                r.workflow,
                r.execution_status,
                f"{r.completed_steps}/{r.total_steps}",
                r.duration,
                r.error_message,
                r.id,
            ]
            for r in rows
        ]

    columns = ["started", "workflow", "status", "steps", "duration", "error", "id"]
    console.print(_table("Executions", columns, as_service(read)))


@executions_app.command("show")
@friendly_errors
def executions_show(execution_id: Annotated[uuid.UUID, typer.Argument(help="The execution.")]) -> None:
    """One execution with each step's result."""

    async def read(session: AsyncSession) -> Any:
        row = await repository.get_execution(session, execution_id)
        if row is None:
            raise NotFoundError(f"No execution has the id {execution_id}.")
        return row

    row = as_service(read)
    summary = _table(
        f"Execution {row.id}",
        ["workflow", "owner", "status", "started", "duration", "steps ok/failed/total", "credits"],
        [
            [
                row.workflow,
                row.email,
                row.execution_status,
                row.started_at,
                row.duration,
                f"{row.completed_steps}/{row.failed_steps}/{row.total_steps}",
                row.credits_used,
            ]
        ],
    )
    console.print(summary)
    if row.error_message:
        console.print(f"[red]error:[/] {row.error_message}", highlight=False)
    steps = [
        [
            step.get("step_order"),
            f"{step.get('service_name')}/{step.get('action_name')}",
            step.get("status"),
            step.get("attempts"),
            step.get("duration_ms"),
            (step.get("error") or {}).get("message")
            if isinstance(step.get("error"), dict)
            else step.get("error"),
        ]
        for step in row.step_results or []
    ]
    console.print(_table("Steps", ["#", "action", "status", "attempts", "ms", "error"], steps))
